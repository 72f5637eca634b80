import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';

export const WAIT = 10_000;

/** Debian's Chromium, headless, as test/e2e/ui.test.ts drives it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** A fresh context and page; any uncaught error in the page fails the test. */
export async function withPage(
  browser: Browser,
  body: (page: Page) => Promise<void>,
  options: BrowserContextOptions = {},
): Promise<void> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  context.setDefaultTimeout(WAIT);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  try {
    await body(page);
    expect(errors).toEqual([]);
  } finally {
    await context.close();
  }
}

/** Opens the inbox and then the message with this subject from the list. */
export async function openMessage(page: Page, base: string, subject: string): Promise<void> {
  if (!page.url().startsWith(base)) {
    await page.goto(base);
    await page.locator('#live.on').waitFor();
  }
  await page.locator('#messages > li').filter({ hasText: subject }).first().click();
  await page.locator('.message-subject', { hasText: subject }).waitFor();
}

/** POST /api/v1/send: a message made over HTTP (fast, no SMTP round trips); answers its ID. */
export async function sendJson(base: string, message: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${base}api/v1/send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      From: { Email: 'app@example.com' },
      To: [{ Email: 'dev@example.org' }],
      ...message,
    }),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  return ((await response.json()) as { ID: string }).ID;
}

export interface UiRig {
  readonly mail: Mailwharf;
  readonly browser: Browser;
  /** The UI's address, ending in '/'. */
  readonly base: string;
  stop(): Promise<void>;
}

/** A mailwharf with the HTTP API and UI on a loopback port, and a Chromium to drive it. */
export async function startUiRig(): Promise<UiRig> {
  const mail = await startMailwharf({ config: { http: { enabled: true, port: 0 } } });
  const browser = await launchChromium();
  return {
    mail,
    browser,
    base: `http://127.0.0.1:${String(mail.server.http?.port())}/`,
    async stop() {
      await browser.close();
      await mail.stop();
    },
  };
}
