/**
 * Tags in the web UI (headless Chromium): chips on list rows and in the message view, added
 * and removed there, saved through Mailpit's tags API; changed by another client, shown live
 * (Mailpit's update event {ID, Tags} on the events stream).
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAIT, openMessage, sendJson, withPage, startUiRig, type UiRig } from '../helpers/browser.js';

const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: WAIT, interval: 50 });

describe('web UI tags (headless Chromium)', () => {
  let rig: UiRig;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    rig = await startUiRig();
    ({ browser, base } = rig);
  });
  afterAll(() => rig.stop());

  const tagsOf = async (id: string) =>
    ((await (await fetch(`${base}api/v1/message/${id}`)).json()) as { Tags: string[] }).Tags;

  it('shows chips on the row and in the view, and edits them', async () => {
    const id = await sendJson(base, { Subject: 'Tagged order', Text: 'x', Tags: ['orders'] });
    await sendJson(base, { Subject: 'Untagged note', Text: 'y' });
    await withPage(browser, async (page) => {
      await page.goto(base);
      const row = page.locator('#messages > li').filter({ hasText: 'Tagged order' });
      await expect.poll(() => row.locator('.tag').allTextContents()).toEqual(['orders']);
      expect(
        await page.locator('#messages > li').filter({ hasText: 'Untagged note' }).locator('.tag').count(),
      ).toBe(0);

      await openMessage(page, base, 'Tagged order');
      const editor = page.locator('.tag-editor');
      expect(await editor.locator('.tag').allTextContents()).toEqual(['orders×']);

      await editor.getByLabel('Add tag').fill('urgent!');
      await editor.getByLabel('Add tag').press('Enter');
      // Saved on the server, with Mailpit's cleaning ('!' dropped), and shown on the row too.
      await poll(() => tagsOf(id)).toEqual(['orders', 'urgent']);
      await poll(() => row.locator('.tag').allTextContents()).toEqual(['orders', 'urgent']);

      await editor.getByRole('button', { name: 'Remove tag orders' }).click();
      await poll(() => tagsOf(id)).toEqual(['urgent']);
      await poll(() => editor.locator('.tag').allTextContents()).toEqual(['urgent×']);
      await poll(() => row.locator('.tag').allTextContents()).toEqual(['urgent']);

      // A reload shows what the server kept.
      await page.reload();
      await poll(() => page.locator('.tag-editor .tag').allTextContents()).toEqual(['urgent×']);
    });
  });

  it('shows tags another client sets, renames and deletes, live, without a reload', async () => {
    const id = await sendJson(base, { Subject: 'Live tags', Text: 'z' });
    const other = await sendJson(base, { Subject: 'Live bystander', Text: 'w' });
    const api = async (method: string, path: string, body: unknown) => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status, `${method} ${path}`).toBe(200);
    };
    await withPage(browser, async (page) => {
      await page.goto(base);
      const row = page.locator('#messages > li').filter({ hasText: 'Live tags' });
      const bystander = page.locator('#messages > li').filter({ hasText: 'Live bystander' });
      // Connected to the events stream, so what follows can only arrive through it.
      await page.locator('#live.on').waitFor();
      await expect.poll(() => row.count()).toBe(1);
      expect(await row.locator('.tag').count()).toBe(0);
      // Set on this page: a reload would lose it.
      await page.evaluate(() => {
        (globalThis as unknown as { notReloaded: boolean }).notReloaded = true;
      });

      await api('PUT', 'api/v1/tags', { IDs: [id, other], Tags: ['from-ci', 'Second'] });
      await poll(() => row.locator('.tag').allTextContents()).toEqual(['from-ci', 'Second']);
      await poll(() => bystander.locator('.tag').allTextContents()).toEqual(['from-ci', 'Second']);

      // The open message's editor follows too.
      await openMessage(page, base, 'Live tags');
      const editor = page.locator('.tag-editor');
      expect(await editor.locator('.tag').allTextContents()).toEqual(['from-ci×', 'Second×']);
      await api('PUT', `api/v1/tags/${encodeURIComponent('from-ci')}`, { Name: 'ci' });
      await poll(() => editor.locator('.tag').allTextContents()).toEqual(['ci×', 'Second×']);
      await poll(() => bystander.locator('.tag').allTextContents()).toEqual(['ci', 'Second']);

      const response = await fetch(`${base}api/v1/tags/Second`, { method: 'DELETE' });
      expect(response.status).toBe(200);
      await poll(() => row.locator('.tag').allTextContents()).toEqual(['ci']);
      await poll(() => editor.locator('.tag').allTextContents()).toEqual(['ci×']);
      await poll(() => bystander.locator('.tag').allTextContents()).toEqual(['ci']);

      expect(
        await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded),
      ).toBe(true);
    });
  });
});
