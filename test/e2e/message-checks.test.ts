import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';
import { spamdInstalled, startSpamd, type Spamd } from '../helpers/spamd.js';

/** SpamAssassin 4's GTUBE string (3.x used ...NSBESC-2PVSCTCAEFSMSCPG*STANDARD...). */
const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

/** A loopback web server with the answers a link check meets. */
async function startLinkTarget(): Promise<{ server: Server; base: string; methods: string[] }> {
  const methods: string[] = [];
  const server = createServer((request, response) => {
    methods.push(`${request.method ?? ''} ${request.url ?? ''}`);
    if (request.url === '/ok') response.writeHead(200).end('fine');
    else if (request.url === '/moved') response.writeHead(302, { location: '/ok' }).end();
    else if (request.url === '/moved-away') response.writeHead(301, { location: '/gone' }).end();
    else if (request.url === '/no-head' && request.method === 'HEAD') response.writeHead(405).end();
    else if (request.url === '/no-head') response.writeHead(200).end('fine with GET');
    else response.writeHead(404).end('not here');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`, methods };
}

describe('Mailpit checks: thumbnails, link-check, sa-check, runtime counters', () => {
  let mail: Mailwharf;
  let base: string;
  let spamd: Spamd | undefined;
  let spamdProblem = '';
  let target: Awaited<ReturnType<typeof startLinkTarget>>;

  beforeAll(async () => {
    if (spamdInstalled) {
      try {
        spamd = await startSpamd();
      } catch (error) {
        spamdProblem = (error as Error).message;
      }
    } else spamdProblem = 'spamd is not installed (Debian package spamd)';
    target = await startLinkTarget();
    mail = await startMailwharf({
      config: {
        http: { enabled: true, port: 0 },
        ...(spamd ? { checks: { spamassassin: spamd.address } } : {}),
      },
    });
    base = `http://127.0.0.1:${String(mail.server.http?.port())}`;
  }, 120_000);
  afterAll(async () => {
    await mail.stop();
    await spamd?.stop();
    await new Promise((resolve) => target.server.close(resolve));
  });

  const smtp = () => nodemailer.createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 });
  const json = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${base}${path}`);
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  };

  it('makes 180x120 JPEG thumbnails: an image cropped to fit, anything else blank white', async () => {
    const photo = await sharp({
      create: { width: 800, height: 600, channels: 3, background: { r: 200, g: 0, b: 0 } },
    })
      .png()
      .toBuffer();
    await smtp().sendMail({
      from: 'app@example.com',
      to: 'dev@example.org',
      subject: 'With a photo',
      text: 'see attached',
      attachments: [
        { filename: 'photo.png', content: photo },
        { filename: 'notes.txt', content: 'just text' },
      ],
    });
    const id = (await mail.waitForMessage({ subject: 'With a photo' })).id;
    const message = await json<{ Attachments: { PartID: string; FileName: string }[] }>(
      `/api/v1/message/${id}`,
    );
    const part = (name: string) => message.Attachments.find((a) => a.FileName === name)?.PartID ?? '';
    const thumb = async (partId: string) => {
      const response = await fetch(`${base}/api/v1/message/${id}/part/${partId}/thumb`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/jpeg');
      const image = sharp(Buffer.from(await response.arrayBuffer()));
      const meta = await image.metadata();
      const { dominant } = await image.stats();
      return { format: meta.format, width: meta.width, height: meta.height, dominant };
    };
    const ofPhoto = await thumb(part('photo.png'));
    expect(ofPhoto).toMatchObject({ format: 'jpeg', width: 180, height: 120 });
    expect(ofPhoto.dominant.r).toBeGreaterThan(150);
    expect(ofPhoto.dominant.g).toBeLessThan(60);
    const ofText = await thumb(part('notes.txt'));
    expect(ofText).toMatchObject({ format: 'jpeg', width: 180, height: 120 });
    expect(ofText.dominant).toMatchObject({ r: 248, g: 248, b: 248 });
    expect((await fetch(`${base}/api/v1/message/${id}/part/99/thumb`)).status).toBe(404);
  });

  it('checks each link with HEAD, then GET where HEAD is refused; follow=true follows redirects', async () => {
    const t = target.base;
    await smtp().sendMail({
      from: 'app@example.com',
      to: 'dev@example.org',
      subject: 'Links to check',
      html: `<a href="${t}/ok">ok</a> <a href="${t}/moved">moved</a> <a href="${t}/missing">missing</a>
        <a href="${t}/no-head">no head</a> <a href="${t}/moved-away">moved away</a>
        <a href="http://127.0.0.1:9/closed">closed</a>`,
    });
    const id = (await mail.waitForMessage({ subject: 'Links to check' })).id;
    type Check = { Errors: number; Links: { URL: string; StatusCode: number; Status: string }[] };
    const status = (check: Check) =>
      Object.fromEntries(check.Links.map((l) => [new URL(l.URL).pathname, l.StatusCode]));
    const plain = await json<Check>(`/api/v1/message/${id}/link-check`);
    // Port 9 of loopback has no listener: no answer is status 0.
    expect(status(plain)).toEqual({
      '/ok': 200,
      '/moved': 302,
      '/missing': 404,
      '/no-head': 200,
      '/moved-away': 301,
      '/closed': 0,
    });
    expect(plain.Errors).toBe(2);
    expect(plain.Links.find((l) => l.URL.endsWith('/closed'))?.Status).toBe('unreachable');
    expect(plain.Links.find((l) => l.URL.endsWith('/ok'))?.Status).toBe('OK');
    expect(target.methods).toContain('HEAD /no-head');
    expect(target.methods).toContain('GET /no-head');
    const followed = await json<Check>(`/api/v1/message/${id}/link-check?follow=true`);
    expect(followed.Links.find((l) => l.URL.endsWith('/moved'))?.StatusCode).toBe(200);
    expect(followed.Links.find((l) => l.URL.endsWith('/moved-away'))?.StatusCode).toBe(404);
    // /moved-away leads to /gone (404): an error only once followed.
    expect(followed.Errors).toBe(3);
  });

  it('scores GTUBE as spam through a real spamd, and a plain message as not', async (context) => {
    if (!spamd) {
      context.skip(`spamd could not run: ${spamdProblem}`);
      return;
    }
    await smtp().sendMail({
      from: 'app@example.com',
      to: 'dev@example.org',
      subject: 'Spam test',
      text: GTUBE,
    });
    await smtp().sendMail({
      from: 'Alice <alice@example.com>',
      to: 'dev@example.org',
      subject: 'Lunch on Friday',
      text: 'Shall we meet at noon by the fountain?',
    });
    type Report = { IsSpam: boolean; Score: number; Error: string; Rules: { Name: string; Score: number }[] };
    const spam = await json<Report>(
      `/api/v1/message/${(await mail.waitForMessage({ subject: 'Spam test' })).id}/sa-check`,
    );
    expect(spam.Error).toBe('');
    expect(spam.IsSpam).toBe(true);
    // GTUBE is 1000 points; informational rules may take a point or so off.
    expect(spam.Score).toBeGreaterThan(900);
    expect(spam.Rules.find((r) => r.Name === 'GTUBE')?.Score).toBe(1000);
    const ham = await json<Report>(
      `/api/v1/message/${(await mail.waitForMessage({ subject: 'Lunch on Friday' })).id}/sa-check`,
    );
    expect(ham).toMatchObject({ Error: '', IsSpam: false });
    expect(ham.Score).toBeLessThan(5);
    expect((await json<{ SpamAssassin: boolean }>('/api/v1/webui')).SpamAssassin).toBe(true);
  }, 60_000);

  it('counts SMTPAccepted and MessagesDeleted in info', async () => {
    type Info = { RuntimeStats: { SMTPAccepted: number; SMTPAcceptedSize: number; MessagesDeleted: number } };
    const before = (await json<Info>('/api/v1/info')).RuntimeStats;
    await smtp().sendMail({
      from: 'app@example.com',
      to: 'dev@example.org',
      subject: 'Counted',
      text: 'one',
    });
    const id = (await mail.waitForMessage({ subject: 'Counted' })).id;
    const after = (await json<Info>('/api/v1/info')).RuntimeStats;
    expect(after.SMTPAccepted).toBe(before.SMTPAccepted + 1);
    expect(after.SMTPAcceptedSize).toBeGreaterThan(before.SMTPAcceptedSize);
    await fetch(`${base}/api/v1/messages`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ IDs: [id] }),
    });
    const total = (await json<{ total: number }>('/api/v1/messages')).total;
    await fetch(`${base}/api/v1/messages`, { method: 'DELETE' });
    const deleted = (await json<Info>('/api/v1/info')).RuntimeStats.MessagesDeleted;
    expect(deleted).toBe(before.MessagesDeleted + 1 + total);
  });
});

describe('sa-check without spamd configured', () => {
  it('answers 400 and webui says SpamAssassin is off', async () => {
    await using mail = await startMailwharf({ config: { http: { enabled: true, port: 0 } } });
    const base = `http://127.0.0.1:${String(mail.server.http?.port())}`;
    const response = await fetch(`${base}/api/v1/message/latest/sa-check`);
    expect(response.status).toBe(400);
    expect(await response.text()).toBe('SpamAssassin is not enabled');
    expect(
      ((await (await fetch(`${base}/api/v1/webui`)).json()) as { SpamAssassin: boolean }).SpamAssassin,
    ).toBe(false);
  });
});
