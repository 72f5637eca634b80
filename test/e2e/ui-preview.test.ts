/**
 * The message view's HTML tools in headless Chromium: highlighted HTML source, preview at
 * phone, tablet and desktop widths, attachment thumbnails, and each message opening on its
 * first tab (a tab chosen for one message does not stick to the next).
 */
import type { Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAIT, openMessage, sendJson, withPage, startUiRig, type UiRig } from '../helpers/browser.js';

const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: WAIT, interval: 50 });

/** What the tests read of an <img> (this file is typed for Node, not the DOM). */
interface Picture {
  complete: boolean;
  naturalWidth: number;
  naturalHeight: number;
}

describe('web UI message preview (headless Chromium)', () => {
  let rig: UiRig;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    rig = await startUiRig();
    ({ browser, base } = rig);
  });
  afterAll(() => rig.stop());

  it('shows the HTML source highlighted, as text', async () => {
    await sendJson(base, {
      Subject: 'Source view',
      HTML: '<!-- note --><table width="600"><tr><td class=cell>Hi &amp; <script>window.pwned=1</script></td></tr></table>',
    });
    await withPage(browser, async (page) => {
      await openMessage(page, base, 'Source view');
      await page.getByRole('tab', { name: 'HTML source' }).click();
      const source = page.locator('pre.html-source');
      await source.waitFor();
      expect(await source.locator('.hl-tag').first().textContent()).toBe('<table');
      expect(await source.locator('.hl-attr').allTextContents()).toEqual(['width', 'class']);
      expect(await source.locator('.hl-value').allTextContents()).toEqual(['"600"', 'cell']);
      expect(await source.locator('.hl-comment').textContent()).toBe('<!-- note -->');
      // Shown as written: the entity stays an entity, the script is text and never runs.
      expect(await source.textContent()).toContain('Hi &amp; <script>window.pwned=1</script>');
      expect(await source.locator('script').count()).toBe(0);
      expect(await page.evaluate<unknown>('window.pwned')).toBeUndefined();
    });
  });

  it('previews the HTML at phone, tablet and desktop widths', async () => {
    await sendJson(base, { Subject: 'Responsive', HTML: '<p>Hello</p>' });
    await withPage(browser, async (page) => {
      await openMessage(page, base, 'Responsive');
      const frame = page.locator('iframe.html-frame');
      const width = async () => Math.round((await frame.boundingBox())?.width ?? 0);
      const desktop = await width();
      expect(desktop).toBeGreaterThan(768);
      await page.getByRole('button', { name: 'Phone' }).click();
      await poll(width).toBe(375);
      // The page inside the frame sees the phone's width (its media queries apply).
      const inner = page.frameLocator('iframe.html-frame').locator('html');
      await poll(() =>
        inner.evaluate((html: { clientWidth: number }) => html.clientWidth),
      ).toBeLessThanOrEqual(375);
      expect(await page.getByRole('button', { name: 'Phone' }).getAttribute('aria-pressed')).toBe('true');
      await page.getByRole('button', { name: 'Tablet' }).click();
      await poll(width).toBe(768);
      await page.getByRole('button', { name: 'Desktop' }).click();
      await poll(width).toBe(desktop);
    });
  });

  it('shows a thumbnail for an image attachment and a clip for other files', async () => {
    // 300x200 solid red: its thumbnail is 180x120 (cropped to fill), red in the middle.
    const red = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#ff0000' } })
      .png()
      .toBuffer();
    await sendJson(base, {
      Subject: 'With picture',
      Text: 'see attached',
      Attachments: [
        { Filename: 'red.png', ContentType: 'image/png', Content: red.toString('base64') },
        {
          Filename: 'notes.txt',
          ContentType: 'text/plain',
          Content: Buffer.from('notes').toString('base64'),
        },
      ],
    });
    await withPage(browser, async (page) => {
      await openMessage(page, base, 'With picture');
      const picture = page.locator('.attachment', { hasText: 'red.png' });
      const thumb = picture.locator('img.thumb');
      await poll(() => thumb.evaluate((img: Picture) => img.complete && img.naturalWidth)).toBe(180);
      expect(await thumb.evaluate((img: Picture) => img.naturalHeight)).toBe(120);
      // The server's JPEG of the red image: its centre pixel is red.
      const rgb = await page.evaluate<number[]>(`(() => {
        const img = document.querySelector('.attachment img.thumb');
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        const context = canvas.getContext('2d');
        context.drawImage(img, 0, 0);
        return [...context.getImageData(90, 60, 1, 1).data].slice(0, 3);
      })()`);
      expect(rgb[0]).toBeGreaterThan(200);
      expect(rgb[1]).toBeLessThan(60);
      const other = page.locator('.attachment', { hasText: 'notes.txt' });
      expect(await other.locator('img').count()).toBe(0);
      expect(await other.locator('.clip').count()).toBe(1);
    });
  });

  it('opens each message on its first tab, whatever tab the last one was left on', async () => {
    await sendJson(base, { Subject: 'First letter', HTML: '<p>one</p>' });
    await sendJson(base, { Subject: 'Second letter', HTML: '<p>two</p>' });
    await sendJson(base, { Subject: 'Plain letter', Text: 'three' });
    await withPage(browser, async (page) => {
      const selected = () => page.locator('[role=tab][aria-selected=true]').textContent();
      await openMessage(page, base, 'First letter');
      await page.getByRole('tab', { name: 'Raw' }).click();
      await poll(selected).toBe('Raw');
      await openMessage(page, base, 'Second letter');
      await poll(selected).toBe('HTML');
      await page.getByRole('tab', { name: 'Headers' }).click();
      await openMessage(page, base, 'Plain letter');
      await poll(selected).toBe('Text');
    });
  });
});
