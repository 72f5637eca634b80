/**
 * The HTML check and Spam tabs in headless Chromium: caniemail's verdict on the message's
 * HTML, and a real spamd's score (GTUBE scores as spam). The Spam tab is shown only when
 * checks.spamassassin is set.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';
import { WAIT, launchChromium, openMessage, sendJson, withPage } from '../helpers/browser.js';
import { spamdInstalled, startSpamd, type Spamd } from '../helpers/spamd.js';

const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: WAIT, interval: 50 });

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

describe('web UI check tabs: HTML check and Spam (headless Chromium)', () => {
  let mail: Mailwharf;
  let plain: Mailwharf;
  let browser: Browser;
  let spamd: Spamd | undefined;
  let spamdProblem = '';

  beforeAll(async () => {
    if (spamdInstalled) {
      try {
        spamd = await startSpamd();
      } catch (error) {
        spamdProblem = (error as Error).message;
      }
    } else spamdProblem = 'spamd is not installed (Debian package spamd)';
    mail = await startMailwharf({
      config: {
        http: { enabled: true, port: 0 },
        ...(spamd ? { checks: { spamassassin: spamd.address } } : {}),
      },
    });
    plain = await startMailwharf({ config: { http: { enabled: true, port: 0 } } });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser.close();
    await mail.stop();
    await plain.stop();
    await spamd?.stop();
  });

  const baseOf = (server: Mailwharf) => `http://127.0.0.1:${String(server.server.http?.port())}/`;

  it('lists the HTML features some mail clients lack, with the overall support', async () => {
    const base = baseOf(plain);
    await sendJson(base, {
      Subject: 'Flexbox newsletter',
      HTML: '<html><head><style>.row { display: flex; }</style></head><body><div class="row">Hi</div></body></html>',
    });
    await sendJson(base, { Subject: 'Text only', Text: 'no HTML here' });
    await withPage(browser, async (page) => {
      await openMessage(page, base, 'Flexbox newsletter');
      await page.getByRole('tab', { name: 'HTML check' }).click();
      const panel = page.locator('.html-check');
      await panel.waitFor();
      expect(await panel.locator('.check-total .score').textContent()).toMatch(/^\d+(\.\d)?%$/);
      const features = await panel.locator('tbody tr td:first-child').allTextContents();
      expect(features.some((f) => /flex/i.test(f))).toBe(true);
      // The same figures as the API gives.
      const id = page.url().split('#/m/')[1] ?? '';
      const api = (await (await fetch(`${base}api/v1/message/${id}/html-check`)).json()) as {
        Warnings: { Title: string }[];
      };
      expect(features).toEqual(api.Warnings.map((w) => w.Title));
      // No Spam tab without spamd configured, and no HTML check for a message without HTML.
      expect(await page.getByRole('tab', { name: 'Spam' }).count()).toBe(0);
      await openMessage(page, base, 'Text only');
      expect(await page.getByRole('tab', { name: 'HTML check' }).count()).toBe(0);
    });
  });

  it('scores GTUBE as spam in the Spam tab, through a real spamd', async (context) => {
    if (!spamd) {
      context.skip(`spamd could not run: ${spamdProblem}`);
      return;
    }
    const base = baseOf(mail);
    await sendJson(base, { Subject: 'Spam test', Text: GTUBE });
    await sendJson(base, { Subject: 'Lunch on Friday', Text: 'Shall we meet at noon by the fountain?' });
    await withPage(browser, async (page) => {
      await openMessage(page, base, 'Spam test');
      await page.getByRole('tab', { name: 'Spam' }).click();
      const total = page.locator('.spam-check .check-total');
      await poll(() => total.textContent()).toMatch(/— spam$/);
      expect(Number(await total.locator('.score').textContent())).toBeGreaterThanOrEqual(5);
      expect(await page.locator('.spam-check td', { hasText: 'GTUBE' }).count()).toBeGreaterThan(0);

      await openMessage(page, base, 'Lunch on Friday');
      await page.getByRole('tab', { name: 'Spam' }).click();
      await poll(() => page.locator('.spam-check .check-total').textContent()).toMatch(/— not spam$/);
    });
  });
});
