/**
 * Numbered pages and the address in headless Chromium: the page and the search are in the
 * URL (?page=, ?q=), so Back and Forward move between them, a reload keeps them, and mail
 * arriving while an older page is shown does not shift its rows.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAIT, sendJson, withPage, startUiRig, type UiRig } from '../helpers/browser.js';

const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: WAIT, interval: 50 });

const COUNT = 120;
const PAGE_SIZE = 50;

describe('web UI paging and address (headless Chromium)', () => {
  let rig: UiRig;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    rig = await startUiRig();
    ({ browser, base } = rig);
    // One at a time: the list is newest first, so Message 120 heads page 1.
    for (let n = 1; n <= COUNT; n++)
      await sendJson(base, { Subject: `Message ${String(n)}`, Text: `number ${String(n)}` });
  }, 120_000);
  afterAll(() => rig.stop());

  const subjects = (page: Page) => page.locator('#messages > li .subject').allTextContents();
  const first = async (page: Page) => (await subjects(page))[0];
  const pageButtons = (page: Page) => page.locator('#pager button[aria-label^="Page"]').allTextContents();
  const query = (page: Page) => new URL(page.url()).search;

  it('pages by number, with the page in the address, and Back/Forward between pages', async () => {
    await withPage(browser, async (page) => {
      await page.goto(base);
      await poll(() => first(page)).toBe('Message 120');
      expect((await subjects(page)).length).toBe(PAGE_SIZE);
      expect(await pageButtons(page)).toEqual(['1', '2', '3']);
      expect(await page.locator('#pager [aria-current=page]').textContent()).toBe('1');
      expect(await page.getByRole('button', { name: 'Previous page' }).isDisabled()).toBe(true);

      await page.getByRole('button', { name: 'Page 2' }).click();
      await poll(() => first(page)).toBe('Message 70');
      expect(query(page)).toBe('?page=2');
      await page.getByRole('button', { name: 'Next page' }).click();
      await poll(() => first(page)).toBe('Message 20');
      expect(query(page)).toBe('?page=3');
      expect((await subjects(page)).length).toBe(COUNT - 2 * PAGE_SIZE);
      expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);

      await page.goBack();
      await poll(() => first(page)).toBe('Message 70');
      expect(await page.locator('#pager [aria-current=page]').textContent()).toBe('2');
      await page.goBack();
      await poll(() => first(page)).toBe('Message 120');
      expect(query(page)).toBe('');
      await page.goForward();
      await poll(() => first(page)).toBe('Message 70');

      // A reload (or a shared link) shows the same page.
      await page.reload();
      await poll(() => first(page)).toBe('Message 70');

      // New mail while page 2 is shown: its rows stay put; the count grows.
      await sendJson(base, { Subject: 'Message 121', Text: 'late' });
      await poll(() => page.locator('#count').textContent()).toBe('121 messages');
      expect(await first(page)).toBe('Message 70');
      await page.getByRole('button', { name: 'Page 1' }).click();
      await poll(() => first(page)).toBe('Message 121');
      expect((await subjects(page)).length).toBe(PAGE_SIZE);
    });
  });

  it('keeps the search in the address: Back undoes it, a reload keeps it, an open message too', async () => {
    await withPage(browser, async (page) => {
      await page.goto(base);
      await poll(() => first(page)).toBe('Message 121');
      await page.locator('#search').fill('subject:"Message 11"');
      await page.locator('#search').press('Enter');
      await poll(() => subjects(page)).toEqual([
        'Message 119',
        'Message 118',
        'Message 117',
        'Message 116',
        'Message 115',
        'Message 114',
        'Message 113',
        'Message 112',
        'Message 111',
        'Message 110',
        'Message 11',
      ]);
      expect(new URL(page.url()).searchParams.get('q')).toBe('subject:"Message 11"');

      await page.locator('#messages > li', { hasText: 'Message 115' }).click();
      await page.locator('.message-subject', { hasText: 'Message 115' }).waitFor();
      expect(new URL(page.url()).hash).toMatch(/^#\/m\//);

      await page.reload();
      await page.locator('.message-subject', { hasText: 'Message 115' }).waitFor();
      expect(await page.locator('#search').inputValue()).toBe('subject:"Message 11"');
      await poll(() => subjects(page)).toHaveLength(11);

      await page.goBack(); // closes the message, the search stays
      await poll(() => page.locator('.message-subject').count()).toBe(0);
      expect(await page.locator('#search').inputValue()).toBe('subject:"Message 11"');
      await page.goBack(); // undoes the search
      await poll(() => first(page)).toBe('Message 121');
      expect(await page.locator('#search').inputValue()).toBe('');
      expect(await pageButtons(page)).toEqual(['1', '2', '3']);
      await page.goForward();
      await poll(() => subjects(page)).toHaveLength(11);
      expect(await page.locator('#search').inputValue()).toBe('subject:"Message 11"');
    });
  });
});
