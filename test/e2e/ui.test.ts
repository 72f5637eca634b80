/**
 * The web UI in a real browser: Debian's Chromium, headless, driven by playwright-core,
 * against the in-process server, with mail sent over SMTP. Nothing waits a fixed time:
 * every step waits for its condition (locators, expect.poll). A failing test leaves a
 * screenshot in test-results/.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer';
import type { Browser, BrowserContextOptions, Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashPassword, startMailwharf, type Mailwharf } from '../../src/index.js';
import { launchChromium } from '../helpers/browser.js';

const RESULTS = new URL('../../test-results/', import.meta.url);
const WAIT = 10_000;
const SANDBOX = 'allow-popups allow-popups-to-escape-sandbox';
const TITLE = /^(\(\d+\) )?mailwharf$/;

const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: WAIT, interval: 50 });

interface Listing {
  total: number;
  messages: { ID: string; Subject: string }[];
}

describe('web UI (headless Chromium)', () => {
  let mail: Mailwharf;
  let browser: Browser;
  let base: string;
  /** A server of our own that counts requests: anything hostile mail makes the browser fetch. */
  let canary: Server;
  let canaryUrl: string;
  const hits: string[] = [];

  beforeAll(async () => {
    mail = await startMailwharf({ config: { http: { enabled: true, port: 0 } } });
    base = `http://127.0.0.1:${String(mail.server.http?.port())}/`;
    canary = createServer((request, response) => {
      hits.push(request.url ?? '');
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    canaryUrl = `http://127.0.0.1:${String((canary.address() as AddressInfo).port)}`;
    browser = await launchChromium();
    await mkdir(RESULTS, { recursive: true });
  });

  // Each test starts on an empty mailbox with no canary hits.
  beforeEach(async () => {
    expect((await deleteAll()).ok).toBe(true);
    hits.length = 0;
  });

  afterAll(async () => {
    await browser.close();
    await mail.stop();
    await new Promise((resolve) => canary.close(resolve));
  });

  const api = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const response = await fetch(`${base}${path}`, init);
    expect(response.ok, `${path}: ${String(response.status)}`).toBe(true);
    return (await response.json().catch(() => undefined)) as T;
  };
  const deleteAll = () =>
    fetch(`${base}api/v1/messages`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });

  const send = (message: Mail.Options, transport: Parameters<typeof nodemailer.createTransport>[0] = {}) =>
    nodemailer
      .createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0, ...(transport as object) })
      .sendMail({ from: 'App <app@example.com>', to: 'dev@example.org', ...message });

  /**
   * A fresh browser context and page; on failure a screenshot named
   * after the test; any uncaught error in the page fails the test.
   */
  async function withPage(
    name: string,
    body: (page: Page) => Promise<void>,
    options: BrowserContextOptions = {},
  ): Promise<void> {
    const context = await browser.newContext({
      acceptDownloads: true,
      viewport: { width: 1280, height: 800 },
      ...options,
    });
    context.setDefaultTimeout(WAIT);
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    try {
      await body(page);
      expect(pageErrors).toEqual([]);
    } catch (error) {
      await page
        .screenshot({ path: new URL(`${name}.png`, RESULTS).pathname, fullPage: true })
        .catch(() => undefined);
      throw error;
    } finally {
      await context.close();
    }
  }

  /** The page, open and subscribed to the live feed. */
  async function open(page: Page, url = base): Promise<void> {
    await page.goto(url);
    await page.locator('#live.on').waitFor();
  }

  const rows = (page: Page) => page.locator('#messages > li');
  const row = (page: Page, subject: string) => rows(page).filter({ hasText: subject });
  const subjects = (page: Page) => page.locator('#messages .subject').allTextContents();

  /** The frame showing the message HTML, once loaded (its images done or refused). */
  async function htmlFrame(page: Page): Promise<Frame> {
    const handle = await page.locator('iframe.html-frame').elementHandle();
    const frame = await handle.contentFrame();
    if (!frame) throw new Error('no HTML frame');
    await frame.waitForLoadState('load');
    return frame;
  }

  it('shows mail sent over SMTP as it arrives, newest first, without a reload', async () => {
    await withPage('live-arrival', async (page) => {
      await open(page);
      await page.locator('#list-empty').waitFor();
      // Survives only if the page is never reloaded.
      await page.evaluate(() => {
        (globalThis as Record<string, unknown>).sameDocument = true;
      });

      await send({ subject: 'First arrival', text: 'Hello from SMTP, the first.' });
      await row(page, 'First arrival').waitFor();
      await send({
        from: 'Grace Hopper <grace@example.com>',
        subject: 'Second arrival',
        text: 'The snippet shows this line.',
        attachments: [{ filename: 'notes.txt', content: 'notes' }],
      });
      await row(page, 'Second arrival').waitFor();

      expect(await subjects(page)).toEqual(['Second arrival', 'First arrival']);
      const newest = row(page, 'Second arrival');
      expect(await newest.locator('.from').textContent()).toBe('Grace Hopper');
      expect(await newest.locator('.snippet').textContent()).toBe('The snippet shows this line.');
      expect(await newest.locator('.time').textContent()).toMatch(/\d/);
      expect(await newest.getAttribute('class')).toContain('unread');
      expect(await newest.locator('.clip').count()).toBe(1);
      expect(await row(page, 'First arrival').locator('.clip').count()).toBe(0);
      await poll(() => page.locator('#unread').textContent()).toBe('2');
      await poll(() => page.title()).toBe('(2) mailwharf');
      expect(await page.locator('#count').textContent()).toBe('2 messages');
      expect(await page.evaluate(() => (globalThis as Record<string, unknown>).sameDocument)).toBe(true);
    });
  });

  it('opens a message: HTML in the sandboxed frame, tabs, remote images on demand, attachment download', async () => {
    const bytes = randomBytes(4096);
    await send(
      {
        from: 'Ada Lovelace <ada@example.com>',
        to: 'Charles <charles@example.org>',
        subject: 'Quarterly report',
        text: 'Plain text version of the report.',
        html: `<img src="${canaryUrl}/remote.png" alt="chart"><h1>Report heading</h1><p>Numbers <b>inside</b>.</p>`,
        attachments: [{ filename: 'data.bin', content: bytes, contentType: 'application/octet-stream' }],
      },
      // Over the STARTTLS submission port, so the envelope tab has TLS facts to show.
      {
        port: mail.ports.submission ?? 0,
        requireTLS: true,
        tls: { ca: mail.tls.ca, servername: 'localhost' },
      },
    );
    await withPage('open-message', async (page) => {
      await open(page);
      await row(page, 'Quarterly report').click();

      await poll(() => page.locator('.message-subject').textContent()).toBe('Quarterly report');
      expect(page.url()).toMatch(/#\/m\/.+/);
      const meta = await page.locator('.meta').innerText();
      expect(meta).toContain('Ada Lovelace <ada@example.com>');
      expect(meta).toContain('Charles <charles@example.org>');

      const iframe = page.locator('iframe.html-frame');
      expect(await iframe.getAttribute('sandbox')).toBe(SANDBOX);
      expect(await iframe.getAttribute('src')).toMatch(/^view\/[^/]+\.html$/);
      const frame = await htmlFrame(page);
      expect(await frame.locator('h1').textContent()).toBe('Report heading');
      expect(await page.frameLocator('iframe.html-frame').locator('b').textContent()).toBe('inside');
      // The frame has loaded, so a remote image would have been fetched by now: it was not.
      expect(hits).toEqual([]);
      await page.getByLabel('Load remote images').check();
      await poll(() => hits).toContain('/remote.png');
      expect(await iframe.getAttribute('src')).toMatch(/\.html\?images=1$/);

      // Opening marked it read, in the list and the unread count.
      await poll(() => row(page, 'Quarterly report').getAttribute('class')).not.toContain('unread');
      await page.locator('#unread').waitFor({ state: 'hidden' });

      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.locator('a.attachment', { hasText: 'data.bin' }).click(),
      ]);
      expect(download.suggestedFilename()).toBe('data.bin');
      expect((await readFile(await download.path())).equals(bytes)).toBe(true);

      const [eml] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: '.eml' }).click(),
      ]);
      expect(eml.suggestedFilename()).toMatch(/\.eml$/);
      expect(await readFile(await eml.path(), 'utf8')).toContain('Subject: Quarterly report');

      await page.getByRole('tab', { name: 'Text' }).click();
      await poll(() => page.locator('.body-text').textContent()).toBe('Plain text version of the report.');

      await page.getByRole('tab', { name: 'Headers' }).click();
      const subjectHeader = page.locator('table.headers tr', {
        has: page.locator('th', { hasText: /^Subject$/ }),
      });
      await poll(() => subjectHeader.locator('td').textContent()).toBe('Quarterly report');

      await page.getByRole('tab', { name: 'Raw' }).click();
      await poll(() => page.locator('pre.raw').textContent()).toContain('Content-Type: multipart/mixed');
      expect(await page.locator('pre.raw').textContent()).toContain('Subject: Quarterly report');

      await page.getByRole('tab', { name: 'Envelope' }).click();
      const fact = (label: string) => page.locator('dl.facts dt', { hasText: label }).locator('+ dd');
      await poll(() => fact('TLS').textContent()).toMatch(/^TLSv1\.[23], /);
      expect(await fact('Listener').textContent()).toMatch(/^submission \(port \d+\)$/);
      expect(await fact('MAIL FROM').textContent()).toBe('ada@example.com');
      expect(await fact('RCPT TO').textContent()).toBe('charles@example.org');
    });
  });

  it('search narrows the list with the server syntax, live, and shows syntax errors', async () => {
    await send({ from: 'billing@example.com', subject: 'Invoice 1001', text: 'Amount due' });
    await send({ from: 'hello@example.com', subject: 'Welcome aboard', text: 'Glad you are here' });
    await send({ from: 'billing@example.com', subject: 'Invoice 1002', text: 'Amount due' });
    await withPage('search', async (page) => {
      await open(page);
      await poll(() => rows(page).count()).toBe(3);

      const box = page.getByRole('searchbox', { name: 'Search messages' });
      await box.fill('subject:invoice');
      await poll(() => subjects(page)).toEqual(['Invoice 1002', 'Invoice 1001']);
      expect(await page.locator('#count').textContent()).toBe('2 results');

      // New mail while searching shows only if it matches.
      await send({ from: 'hello@example.com', subject: 'Weekly newsletter', text: 'news' });
      await send({ from: 'billing@example.com', subject: 'Invoice 1003', text: 'Amount due' });
      await poll(() => subjects(page)).toEqual(['Invoice 1003', 'Invoice 1002', 'Invoice 1001']);

      await box.fill('from:hello -newsletter');
      await box.press('Enter');
      await poll(() => subjects(page)).toEqual(['Welcome aboard']);

      await box.fill('is:bogus');
      await box.press('Enter');
      await poll(() => page.locator('#search-error').textContent()).toContain('is:bogus');
      expect(await rows(page).count()).toBe(0);

      await box.press('Escape');
      await poll(() => rows(page).count()).toBe(5);
      expect(await page.locator('#search-error').isVisible()).toBe(false);
      expect(await page.locator('#count').textContent()).toBe('5 messages');
    });
  });

  it('deletes one message, reflects deletes by other clients, and deletes all', async () => {
    for (const subject of ['Keep me', 'Delete me', 'Removed elsewhere', 'Last one']) {
      await send({ subject, text: subject });
    }
    await withPage('delete', async (page) => {
      await open(page);
      await poll(() => rows(page).count()).toBe(4);

      await row(page, 'Delete me').click();
      await poll(() => page.locator('.message-subject').textContent()).toBe('Delete me');
      await page.getByRole('button', { name: 'Delete', exact: true }).click();
      await row(page, 'Delete me').waitFor({ state: 'detached' });
      await page.locator('.placeholder', { hasText: 'Select a message' }).waitFor();
      expect((await api<Listing>('api/v1/messages')).messages.map((m) => m.Subject)).not.toContain(
        'Delete me',
      );

      // Another client deletes one: the row goes without a reload.
      const listing = await api<Listing>('api/v1/messages');
      const elsewhere = listing.messages.find((m) => m.Subject === 'Removed elsewhere');
      expect(elsewhere).toBeDefined();
      await fetch(`${base}api/v1/messages`, {
        method: 'DELETE',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ IDs: [elsewhere?.ID] }),
      });
      await row(page, 'Removed elsewhere').waitFor({ state: 'detached' });
      expect(await subjects(page)).toEqual(['Last one', 'Keep me']);

      await page.locator('#delete-all').click();
      const dialog = page.getByRole('dialog');
      await poll(() => dialog.textContent()).toContain('Delete all 2 messages');
      await dialog.getByRole('button', { name: 'Delete' }).click();
      await poll(() => rows(page).count()).toBe(0);
      await page.locator('#list-empty').waitFor();
      expect((await api<Listing>('api/v1/messages')).total).toBe(0);
      expect(await page.locator('#count').textContent()).toBe('0 messages');
    });
  });

  it('runs no script from hostile mail and shows its markup as text', async () => {
    const hostileSubject = `<img src=x onerror="fetch('${canaryUrl}/subject')"><script>fetch('${canaryUrl}/subject-script')</script> & <b>bold</b>`;
    const hostileName = `<script>alert("from")</script><img src=x onerror=alert("from-img")>`;
    const hostileFile = `<img src=x onerror=alert("file")>.txt`;
    const html = [
      `<script>alert('body'); fetch('${canaryUrl}/body-script'); top.document.title = 'PWNED';</script>`,
      `<img src="x" onerror="alert('onerror'); fetch('${canaryUrl}/onerror')">`,
      `<svg onload="alert('svg'); fetch('${canaryUrl}/svg')"></svg>`,
      `<a id="js-link" href="javascript:alert('link');fetch('${canaryUrl}/link')">click me</a>`,
      `<form action="javascript:fetch('${canaryUrl}/form')"><button id="js-submit">send</button></form>`,
      `<iframe src="javascript:fetch('${canaryUrl}/frame')"></iframe>`,
      `<p onclick="fetch('${canaryUrl}/click')" id="clickable">hostile body</p>`,
      `<img src="${canaryUrl}/barrier.png">`,
    ].join('\n');
    const text = `<script>alert('text')</script> text with tags`;

    await withPage('hostile', async (page) => {
      const dialogs: string[] = [];
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      await open(page);
      const title = await page.title();
      expect(title).toMatch(TITLE);

      await send({
        from: { name: hostileName, address: 'evil@example.com' },
        subject: hostileSubject,
        text,
        html,
        attachments: [{ filename: hostileFile, content: 'x' }],
      });
      const hostileRow = rows(page).first();
      await hostileRow.waitFor();
      // The markup is text: shown literally, never elements in our page.
      expect(await hostileRow.locator('.subject').textContent()).toBe(hostileSubject);
      expect(await hostileRow.locator('.from').textContent()).toBe(hostileName);

      await hostileRow.locator('a').click();
      await poll(() => page.locator('.message-subject').textContent()).toBe(hostileSubject);
      expect(await page.locator('.meta').innerText()).toContain(`${hostileName} <evil@example.com>`);
      expect(await page.locator('a.attachment .name').textContent()).toBe(hostileFile);
      expect(await page.locator('iframe.html-frame').getAttribute('sandbox')).toBe(SANDBOX);

      // Try to trigger what could run: the javascript: link, the form, an onclick.
      const frame = await htmlFrame(page);
      await frame.locator('#js-link').click();
      await frame.locator('#js-submit').click();
      await frame.locator('#clickable').click();
      await page.getByRole('tab', { name: 'Text' }).click();
      await poll(() => page.locator('.body-text').textContent()).toBe(text);
      await page.getByRole('tab', { name: 'HTML', exact: true }).click();

      // A barrier: with remote images allowed the frame reloads and fetches the last image, so
      // every script, handler and load before it has had its chance to run by then.
      await page.getByLabel('Load remote images').check();
      await poll(() => hits).toContain('/barrier.png');
      await htmlFrame(page);

      expect(hits.filter((hit) => hit !== '/barrier.png')).toEqual([]);
      expect(dialogs).toEqual([]);
      expect(await page.title()).toMatch(TITLE);
      expect(await page.title()).not.toContain('PWNED');
      // Our page holds only its own module script and no element from the mail's markup.
      expect(await page.locator('script').count()).toBe(1);
      expect(await page.locator('script').getAttribute('src')).toBe('ui/app.js');
      expect(await page.locator('img[onerror], svg, b, [onclick], [onload]').count()).toBe(0);
      expect(await page.locator('img').count()).toBe(1); // the logo
    });
  });

  it('works at phone width: the list, then the message, then back', async () => {
    await send({
      from: 'Mobile Tester <m@example.com>',
      subject: 'Pocket-sized',
      text: 'Small screens too.',
      html: '<h1>Small screens</h1>',
    });
    await withPage('mobile', async (page) => {
      await page.setViewportSize({ width: 390, height: 844 });
      await open(page);
      await row(page, 'Pocket-sized').waitFor();
      expect(await page.locator('#view').isVisible()).toBe(false);
      expect(await page.getByRole('searchbox').isVisible()).toBe(true);

      await row(page, 'Pocket-sized').click();
      await poll(() => page.locator('.message-subject').textContent()).toBe('Pocket-sized');
      await page.locator('.list-pane').waitFor({ state: 'hidden' });
      const frame = await htmlFrame(page);
      expect(await frame.locator('h1').textContent()).toBe('Small screens');
      const box = await page.locator('.message-view').boundingBox();
      expect(box?.width).toBeLessThanOrEqual(390);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);

      await page.getByRole('button', { name: '← Inbox' }).click();
      await row(page, 'Pocket-sized').waitFor();
      expect(await page.locator('#view').isVisible()).toBe(false);
      expect(await row(page, 'Pocket-sized').getAttribute('class')).not.toContain('unread');
    });
  });

  it('follows the system colour scheme and the theme toggle (screenshots in test-results/)', async () => {
    await send({
      from: 'Ada Lovelace <ada@example.com>',
      subject: 'Welcome to mailwharf',
      text: 'Your captured mail, live.',
      html: '<h1 style="font-family:sans-serif">Hello!</h1><p style="font-family:sans-serif">This is the HTML part, shown in a sandboxed frame.</p>',
      attachments: [{ filename: 'invoice.pdf', content: 'pdf' }],
    });
    await send({ from: 'Grace Hopper <grace@example.com>', subject: 'Build passed', text: 'All green.' });
    await send({ from: 'billing@example.com', subject: 'Invoice 2024-07', text: 'Amount due: 42 EUR' });
    await withPage('theme', async (page) => {
      const background = () => page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
      await page.emulateMedia({ colorScheme: 'light' });
      await open(page);
      await row(page, 'Welcome to mailwharf').click();
      await htmlFrame(page);
      const light = await background();
      await page.screenshot({ path: new URL('ui-light.png', RESULTS).pathname });

      await page.emulateMedia({ colorScheme: 'dark' });
      await poll(background).not.toBe(light);
      const dark = await background();
      await page.screenshot({ path: new URL('ui-dark.png', RESULTS).pathname });

      // The toggle goes system → light → dark → system, whatever the system says.
      const toggle = page.locator('#theme-toggle');
      await toggle.click();
      await poll(background).toBe(light);
      await toggle.click();
      await poll(background).toBe(dark);
      await page.emulateMedia({ colorScheme: 'light' });
      expect(await background()).toBe(dark);
      // Remembered across a reload.
      await page.reload();
      await poll(background).toBe(dark);
      await page.locator('#theme-toggle').click();
      await poll(background).toBe(light);
    });
  });

  it('works under http.basePath and Basic auth (relative URLs, redirect to the trailing slash)', async () => {
    const prefixed = await startMailwharf({
      config: {
        http: {
          enabled: true,
          port: 0,
          basePath: '/mail',
          basicAuth: { username: 'admin', passwordHash: await hashPassword('s3cret') },
        },
      },
    });
    const origin = `http://127.0.0.1:${String(prefixed.server.http?.port())}`;
    try {
      await withPage(
        'base-path',
        async (page) => {
          await open(page, `${origin}/mail`);
          expect(page.url()).toBe(`${origin}/mail/`);
          await nodemailer.createTransport({ host: '127.0.0.1', port: prefixed.ports.smtp ?? 0 }).sendMail({
            from: 'a@example.com',
            to: 'b@example.org',
            subject: 'Behind a proxy',
            html: '<h1>Prefixed</h1>',
          });
          // Arrives over the live feed, which needs the credentials too.
          await row(page, 'Behind a proxy').click();
          const frame = await htmlFrame(page);
          expect(frame.url()).toMatch(new RegExp(`^${origin}/mail/view/[^/]+\\.html$`));
          expect(await frame.locator('h1').textContent()).toBe('Prefixed');
        },
        { httpCredentials: { username: 'admin', password: 's3cret' } },
      );
    } finally {
      await prefixed.stop();
    }
  });
});
