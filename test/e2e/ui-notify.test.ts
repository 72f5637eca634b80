/**
 * Browser notifications of new mail in headless Chromium: permission is asked only when the
 * user clicks the bell, and then each message that arrives makes a notification with its
 * subject. The page's Notification is wrapped (still the browser's own) to record what the
 * app does with it.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAIT, sendJson, withPage, startUiRig, type UiRig } from '../helpers/browser.js';

const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: WAIT, interval: 50 });

interface Recorded {
  requests: number;
  shown: { title: string; body: string }[];
}

/**
 * Runs in the page before the app (a string: this file is typed for Node, not the DOM):
 * counts permission requests and records each notification made, through the real API.
 */
const RECORD_NOTIFICATIONS = `
  const record = { requests: 0, shown: [] };
  window.recorded = record;
  const Native = window.Notification;
  class Recording extends Native {
    constructor(title, options) {
      super(title, options);
      record.shown.push({ title, body: options?.body ?? '' });
    }
    static requestPermission() {
      record.requests += 1;
      return Native.requestPermission();
    }
    static get permission() {
      return Native.permission;
    }
  }
  window.Notification = Recording;
`;

describe('web UI notifications (headless Chromium)', () => {
  let rig: UiRig;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    rig = await startUiRig();
    ({ browser, base } = rig);
  });
  afterAll(() => rig.stop());

  const recorded = (page: Page) => page.evaluate<Recorded>('window.recorded');

  it('notifies of each new message once turned on, and not before or after', async () => {
    await withPage(
      browser,
      async (page) => {
        await page.addInitScript(RECORD_NOTIFICATIONS);
        await page.goto(base);
        await page.locator('#live.on').waitFor();
        const bell = page.locator('#notify');
        expect(await bell.getAttribute('aria-pressed')).toBe('false');
        // Mail before the click: no prompt, no notification.
        await sendJson(base, { Subject: 'Before opting in', Text: 'x' });
        await page.locator('#messages > li', { hasText: 'Before opting in' }).waitFor();
        expect(await recorded(page)).toEqual({ requests: 0, shown: [] });

        // Permission is already granted here (the context's), so the click asks nothing more.
        await bell.click();
        await poll(() => bell.getAttribute('aria-pressed')).toBe('true');
        expect((await recorded(page)).requests).toBe(0);

        await sendJson(base, {
          From: { Email: 'shop@example.com', Name: 'Shop' },
          Subject: 'Your receipt',
          Text: 'y',
        });
        await poll(async () => (await recorded(page)).shown).toEqual([
          { title: 'Your receipt', body: 'From Shop' },
        ]);

        // Remembered across a reload, without asking again; a second click turns it off.
        await page.reload();
        await page.locator('#live.on').waitFor();
        expect(await bell.getAttribute('aria-pressed')).toBe('true');
        expect((await recorded(page)).requests).toBe(0);
        await bell.click();
        await poll(() => bell.getAttribute('aria-pressed')).toBe('false');
        await sendJson(base, { Subject: 'After opting out', Text: 'z' });
        await page.locator('#messages > li', { hasText: 'After opting out' }).waitFor();
        expect((await recorded(page)).shown).toEqual([]);
      },
      { permissions: ['notifications'] },
    );
  });

  it('asks for permission on the click only, and stays off when refused', async () => {
    await withPage(browser, async (page) => {
      await page.addInitScript(RECORD_NOTIFICATIONS);
      await page.goto(base);
      await page.locator('#live.on').waitFor();
      expect(await page.evaluate<string>('Notification.permission')).toBe('default');
      expect((await recorded(page)).requests).toBe(0);
      // The prompt comes from the click, and only then.
      await page.locator('#notify').click();
      await poll(async () => (await recorded(page)).requests).toBe(1);
      expect(await page.locator('#notify').getAttribute('aria-pressed')).toBe('false');
      await sendJson(base, { Subject: 'Refused', Text: 'x' });
      await page.locator('#messages > li', { hasText: 'Refused' }).waitFor();
      expect((await recorded(page)).shown).toEqual([]);
    });
  });
});
