import { MailpitClient } from 'mailpit-api';
import nodemailer from 'nodemailer';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, startMailwharf, type Mailwharf } from '../../src/index.js';
import { spamdInstalled, startSpamd, type Spamd } from '../helpers/spamd.js';

/**
 * The mailpit-api client methods that were 404 (tags aside: the tags API is the SQLite issue's),
 * and cypress-mailpit's requests exactly as its MailpitCommands.ts builds them.
 */
describe('Mailpit clients: mailpit-api checks and cypress-mailpit requests', () => {
  let mail: Mailwharf;
  let client: MailpitClient;
  let base: string;
  let spamd: Spamd | undefined;
  let spamdProblem = 'spamd is not installed (Debian package spamd)';
  const auth = { username: 'cypress', password: 'e2e-secret' };
  const basic = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;

  beforeAll(async () => {
    if (spamdInstalled) {
      spamd = await startSpamd().catch((error: unknown) => {
        spamdProblem = (error as Error).message;
        return undefined;
      });
    }
    mail = await startMailwharf({
      config: {
        http: {
          enabled: true,
          port: 0,
          basicAuth: { username: auth.username, passwordHash: await hashPassword(auth.password) },
        },
        ...(spamd ? { checks: { spamassassin: spamd.address } } : {}),
      },
    });
    base = `http://127.0.0.1:${String(mail.server.http?.port())}`;
    client = new MailpitClient(base, { auth });
  }, 120_000);
  afterAll(async () => {
    await mail.stop();
    await spamd?.stop();
  });

  const smtp = () => nodemailer.createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 });

  it('getAttachmentThumbnail, htmlCheck, linkCheck and getInfo through the client', async () => {
    const png = await sharp({
      create: { width: 300, height: 200, channels: 3, background: { r: 0, g: 0, b: 255 } },
    })
      .png()
      .toBuffer();
    await smtp().sendMail({
      from: 'app@example.com',
      to: 'dev@example.org',
      subject: 'Client checks',
      html: '<div style="display:flex;border-radius:4px"><a href="http://127.0.0.1:9/x">x</a></div>',
      attachments: [{ filename: 'logo.png', content: png }],
    });
    const message = await client.waitForMessage({ query: 'subject:"Client checks"' }, { timeout: 5000 });
    const full = await client.getMessageSummary(message.ID);
    const thumb = await client.getAttachmentThumbnail(message.ID, full.Attachments[0]?.PartID ?? '');
    const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 180, height: 120 });

    const html = await client.htmlCheck(message.ID);
    const slugs = html.Warnings.map((w) => w.Slug);
    expect(slugs).toContain('css-display-flex');
    expect(slugs).toContain('css-border-radius');
    const flex = html.Warnings.find((w) => w.Slug === 'css-display-flex');
    expect(flex?.Category).toBe('css');
    expect(flex?.Results.some((r) => r.Family === 'Outlook' && r.Support === 'no')).toBe(true);
    expect(flex?.Score.Unsupported).toBeGreaterThan(0);
    expect(html.Total.Tests).toBeGreaterThan(100);
    expect(html.Total.Supported + html.Total.Partial + html.Total.Unsupported).toBeCloseTo(100, 0);
    expect(Object.keys(html.Platforms)).toContain('ios');

    const links = await client.linkCheck(message.ID);
    expect(links).toEqual({
      Errors: 1,
      Links: [{ URL: 'http://127.0.0.1:9/x', StatusCode: 0, Status: 'unreachable' }],
    });

    const info = await client.getInfo();
    expect(info.RuntimeStats.SMTPAccepted).toBeGreaterThanOrEqual(1);
  });

  it('spamAssassinCheck through the client', async (context) => {
    if (!spamd) {
      context.skip(`spamd could not run: ${spamdProblem}`);
      return;
    }
    const { ID } = await client.sendMessage({
      From: { Email: 'app@example.com' },
      To: [{ Email: 'dev@example.org' }],
      Subject: 'Hello there',
      Text: 'A short, friendly note about our meeting next week.',
    });
    const report = await client.spamAssassinCheck(ID);
    expect(report.Error).toBe('');
    expect(report.IsSpam).toBe(false);
    expect(Array.isArray(report.Rules)).toBe(true);
  }, 60_000);

  it("answers every request cypress-mailpit's commands make, with Basic auth", async () => {
    // MailpitCommands.mailpitUrl: `${baseUrl}/${isApi ? 'api' : ''}${path}`, so views get "//".
    const url = (path: string, isApi = true) => `${base}/${isApi ? 'api' : ''}${path}`;
    const request = async (method: string, target: string, body?: unknown) => {
      const response = await fetch(target, {
        method,
        headers: {
          authorization: basic,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      expect(response.status, `${method} ${target}`).toBe(200);
      return response;
    };
    await request('DELETE', url('/v1/messages'));
    const sent = (await (
      await request('POST', url('/v1/send'), {
        Attachments: [],
        Bcc: ['bcc@example.com'],
        Cc: [{ Email: 'cc@example.com', Name: 'CC' }],
        From: { Email: 'from@example.com', Name: 'From' },
        HTML: '<p>hello from mailpit</p>',
        Headers: {},
        ReplyTo: [{ Email: 'replyto@example.com', Name: 'ReplyTo' }],
        Subject: 'Hello Mailpit',
        Tags: [],
        Text: 'hello from mailpit',
        To: [{ Email: 'jane@example.com', Name: 'Jane' }],
      })
    ).json()) as { ID: string };
    const all = (await (await request('GET', url('/v1/messages?start=0&limit=50'))).json()) as {
      messages_count: number;
    };
    expect(all.messages_count).toBe(1);
    const bySubject = (await (
      await request(
        'GET',
        url(`/v1/search?query=${encodeURIComponent('subject:Hello Mailpit')}&start=0&limit=50`),
      )
    ).json()) as { messages_count: number };
    expect(bySubject.messages_count).toBe(1);
    const byTo = (await (
      await request(
        'GET',
        url(`/v1/search?query=${encodeURIComponent('to:jane@example.com')}&start=0&limit=50`),
      )
    ).json()) as { messages_count: number };
    expect(byTo.messages_count).toBe(1);
    const message = (await (await request('GET', url(`/v1/message/${sent.ID}`))).json()) as {
      Subject: string;
    };
    expect(message.Subject).toBe('Hello Mailpit');
    expect((await (await request('GET', url('/v1/message/latest'))).json()) as { ID: string }).toMatchObject({
      ID: sent.ID,
    });
    expect(await (await request('GET', url(`/view/${sent.ID}.html`, false))).text()).toContain(
      'hello from mailpit',
    );
    expect(await (await request('GET', url(`/view/${sent.ID}.txt`, false))).text()).toContain(
      'hello from mailpit',
    );
    await request('PUT', url('/v1/messages'), { IDs: [], Read: true });
    await request('PUT', url('/v1/messages'), { IDs: [sent.ID], Read: false });
    if (spamd) {
      const spam = (await (await request('GET', url(`/v1/message/${sent.ID}/sa-check`))).json()) as {
        Error: string;
      };
      expect(spam.Error).toBe('');
    }
    await request('DELETE', url(`/v1/search?query=${encodeURIComponent('subject:Hello Mailpit')}`));
    const after = (await (await request('GET', url('/v1/messages?start=0&limit=50'))).json()) as {
      messages_count: number;
    };
    expect(after.messages_count).toBe(0);
  });
});
