/**
 * The release button in the web UI (headless Chromium): shown only when release is set up,
 * refused for a recipient outside release.allowedDomains (the server's reason shown), and a
 * copy delivered to the upstream server for an allowed one.
 */
import nodemailer from 'nodemailer';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';
import { launchChromium, openMessage, sendJson, withPage } from '../helpers/browser.js';

describe('web UI release (headless Chromium)', () => {
  let upstream: Mailwharf;
  let sink: Mailwharf;
  let plain: Mailwharf;
  let browser: Browser;

  beforeAll(async () => {
    upstream = await startMailwharf();
    sink = await startMailwharf({
      config: {
        http: { enabled: true, port: 0 },
        release: {
          route: { type: 'smarthost', host: '127.0.0.1', port: upstream.ports.smtp ?? 0, tls: 'none' },
          allowedDomains: ['example.org'],
        },
        delivery: { pollSeconds: 0.2 },
      },
    });
    plain = await startMailwharf({ config: { http: { enabled: true, port: 0 } } });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser.close();
    await plain.stop();
    await sink.stop();
    await upstream.stop();
  });

  const baseOf = (server: Mailwharf) => `http://127.0.0.1:${String(server.server.http?.port())}/`;

  it('releases to an allowed recipient and shows the refusal for another', async () => {
    await nodemailer
      .createTransport({ host: '127.0.0.1', port: sink.ports.smtp ?? 0 })
      .sendMail({ from: 'app@example.com', to: 'qa@example.org', subject: 'Release me', text: 'hello' });
    await sink.waitForMessage({ subject: 'Release me' });
    const base = baseOf(sink);
    await withPage(browser, async (page) => {
      await openMessage(page, base, 'Release me');
      await page.getByRole('button', { name: 'Release', exact: true }).click();
      const dialog = page.getByRole('dialog', { name: 'Release message' });
      const to = dialog.getByLabel('To (comma-separated)');
      expect(await to.inputValue()).toBe('qa@example.org');
      expect(await dialog.textContent()).toContain('Allowed domains: example.org');

      await to.fill('someone@elsewhere.com');
      await dialog.getByRole('button', { name: 'Release' }).click();
      await dialog.locator('.release-status.error', { hasText: 'not in release.allowedDomains' }).waitFor();

      await to.fill('qa@example.org');
      await dialog.getByRole('button', { name: 'Release' }).click();
      await dialog.locator('.release-status.ok', { hasText: 'Released to qa@example.org' }).waitFor();
      const arrived = await upstream.waitForMessage({ subject: 'Release me' }, { timeout: 10_000 });
      expect(arrived.envelope.rcptTo.map((r) => r.address)).toEqual(['qa@example.org']);
      await dialog.getByRole('button', { name: 'Close' }).click();
      await dialog.waitFor({ state: 'detached' });
    });
  });

  it('has no release button when release is not configured', async () => {
    const base = baseOf(plain);
    await sendJson(base, { Subject: 'Nowhere to go', Text: 'x' });
    await withPage(browser, async (page) => {
      await openMessage(page, base, 'Nowhere to go');
      await page.getByRole('button', { name: 'Mark unread' }).waitFor();
      expect(await page.getByRole('button', { name: 'Release', exact: true }).count()).toBe(0);
    });
  });
});
