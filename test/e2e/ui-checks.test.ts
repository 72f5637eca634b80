/**
 * The UI's check tabs in headless Chromium: Authentication (DKIM signed with a key the test
 * makes, served by a loopback DNS server) and Link check (against a loopback web server).
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';
import { launchChromium, WAIT, withPage as withBrowserPage } from '../helpers/browser.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';

const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: WAIT, interval: 50 });

describe('web UI check tabs (headless Chromium)', () => {
  let dns: DnsServer;
  let mail: Mailwharf;
  let browser: Browser;
  let web: Server;
  let webBase: string;
  let base: string;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dkim = {
    domainName: 'shop.example',
    keySelector: 'ui',
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };

  beforeAll(async () => {
    dns = await startDnsServer({
      'ui._domainkey.shop.example': {
        TXT: [`v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`],
      },
      'shop.example': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
      '_dmarc.shop.example': { TXT: ['v=DMARC1; p=quarantine'] },
    });
    web = createServer((request, response) => {
      response.writeHead(request.url === '/ok' ? 200 : 404).end();
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    webBase = `http://127.0.0.1:${String((web.address() as AddressInfo).port)}`;
    mail = await startMailwharf({
      config: { http: { enabled: true, port: 0 }, checks: { dnsServers: [dns.address] } },
    });
    base = `http://127.0.0.1:${String(mail.server.http?.port())}/`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser.close();
    await mail.stop();
    await dns.close();
    await new Promise((resolve) => web.close(resolve));
  });

  async function openMessage(page: Page, subject: string): Promise<void> {
    await page.goto(base);
    await page.locator('#live.on').waitFor();
    await page.locator('#messages > li').filter({ hasText: subject }).click();
    await page.locator('.message-subject', { hasText: subject }).waitFor();
  }

  const withPage = (body: (page: Page) => Promise<void>) => withBrowserPage(browser, body);

  const fact = (page: Page, label: RegExp) =>
    page.locator('dl.auth dt', { hasText: label }).locator('+ dd .verdict').textContent();

  it('shows pass for a signed message and none for an unsigned one', async () => {
    const smtp = { host: '127.0.0.1', port: mail.ports.smtp ?? 0 };
    await nodemailer.createTransport({ ...smtp, dkim }).sendMail({
      from: 'orders@shop.example',
      to: 'dev@example.org',
      subject: 'Signed order',
      text: 'Thanks!',
    });
    await nodemailer.createTransport(smtp).sendMail({
      from: 'orders@shop.example',
      to: 'dev@example.org',
      subject: 'Plain order',
      text: 'Thanks!',
    });
    await mail.waitForMessage({ subject: 'Plain order' });
    await withPage(async (page) => {
      await openMessage(page, 'Signed order');
      await page.getByRole('tab', { name: 'Authentication' }).click();
      await poll(() => fact(page, /^DKIM d=shop\.example s=ui$/)).toBe('pass');
      expect(await fact(page, /^SPF$/)).toBe('pass');
      expect(await fact(page, /^DMARC$/)).toBe('pass');
      expect(await page.locator('.auth-report pre').textContent()).toMatch(/dkim=pass/);

      await openMessage(page, 'Plain order');
      await page.getByRole('tab', { name: 'Authentication' }).click();
      await poll(() => fact(page, /^DKIM$/)).toBe('none');
    });
  });

  it('checks links on request and marks the broken ones', async () => {
    await nodemailer.createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 }).sendMail({
      from: 'app@example.com',
      to: 'dev@example.org',
      subject: 'Two links',
      html: `<a href="${webBase}/ok">fine</a> <a href="${webBase}/gone">broken</a>`,
    });
    await mail.waitForMessage({ subject: 'Two links' });
    await withPage(async (page) => {
      await openMessage(page, 'Two links');
      await page.getByRole('tab', { name: 'Link check' }).click();
      await page.getByRole('button', { name: 'Check links' }).click();
      await poll(() => page.locator('.link-results p').first().textContent()).toBe('2 links, 1 errors');
      expect(await page.locator('tr.link-bad td').nth(2).textContent()).toBe(`${webBase}/gone`);
      expect(await page.locator('tr.link-ok td').first().textContent()).toBe('200');
    });
  });
});
