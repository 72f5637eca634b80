import { request as httpRequest } from 'node:http';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, startMailwharf, type Mailwharf } from '../../src/index.js';

describe('HTTP: mailwharf extensions, auth, base path, health and metrics', () => {
  let mail: Mailwharf;
  let base: string;
  const auth = `Basic ${Buffer.from('admin:s3cret').toString('base64')}`;
  const get = (path: string, headers: Record<string, string> = { authorization: auth }) =>
    fetch(`${base}${path}`, { headers });

  beforeAll(async () => {
    mail = await startMailwharf({
      config: {
        http: {
          enabled: true,
          port: 0,
          basePath: '/mail',
          basicAuth: { username: 'admin', passwordHash: await hashPassword('s3cret') },
        },
      },
    });
    base = `http://127.0.0.1:${String(mail.server.http?.port())}/mail`;
  });
  afterAll(async () => {
    await mail.stop();
  });

  const send = (to: string, subject: string, text = 'body') =>
    nodemailer
      .createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 })
      .sendMail({ from: 'app@example.com', to, subject, text });

  it('serves under the base path, behind Basic auth, with open health checks', async () => {
    expect((await get('/api/v1/messages', {})).status).toBe(401);
    expect(
      (
        await get('/api/v1/messages', {
          authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}`,
        })
      ).status,
    ).toBe(401);
    expect((await get('/api/v1/messages')).status).toBe(200);
    expect(await (await get('/livez', {})).text()).toBe('ok');
    expect((await get('/readyz', {})).status).toBe(200);
    expect(
      (await fetch(`${base.replace('/mail', '')}/api/v1/messages`, { headers: { authorization: auth } }))
        .status,
    ).toBe(404);
  });

  it('wait returns a message as soon as it arrives, with its envelope; 408 on timeout', async () => {
    const waiting = get('/api/mailwharf/wait?query=subject:awaited&timeout=5000');
    await send('waiter@example.org', 'Awaited one');
    const response = await waiting;
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      Subject: string;
      Envelope: { RcptTo: string[]; Listener: string; ClientAddress: string };
    };
    expect(body.Subject).toBe('Awaited one');
    expect(body.Envelope).toMatchObject({
      RcptTo: ['waiter@example.org'],
      Listener: 'smtp',
      ClientAddress: '127.0.0.1',
    });
    const timedOut = await get('/api/mailwharf/wait?query=subject:never&timeout=100');
    expect(timedOut.status).toBe(408);
  });

  it('mailboxes scope list, search and delete to one recipient, plus-tag or AUTH user', async () => {
    await send('qa+run1@example.org', 'For run 1');
    await send('qa+run2@example.org', 'For run 2');
    await get('/api/mailwharf/wait?query=subject:"run 2"&timeout=5000');
    const subjects = async (path: string) =>
      ((await (await get(path)).json()) as { messages: { Subject: string }[] }).messages.map(
        (m) => m.Subject,
      );
    expect(await subjects('/api/v1/messages?mailbox=run1')).toEqual(['For run 1']);
    expect(await subjects('/api/v1/messages?mailbox=qa%2Brun2@example.org')).toEqual(['For run 2']);
    expect(await subjects('/api/v1/search?query=subject:run&mailbox=run2')).toEqual(['For run 2']);
    await fetch(`${base}/api/v1/messages?mailbox=run1`, {
      method: 'DELETE',
      headers: { authorization: auth },
    });
    expect(await subjects('/api/v1/search?query=subject:run')).toEqual(['For run 2']);
  });

  it('extracts links and one-time codes', async () => {
    await send(
      'codes@example.org',
      'Your sign-in code',
      'Use code: 493817 or open https://app.example.com/verify?t=abc&u=1 now.',
    );
    const waited = (await (await get('/api/mailwharf/wait?query=subject:sign-in&timeout=5000')).json()) as {
      ID: string;
    };
    const extracted = (await (await get(`/api/mailwharf/message/${waited.ID}/extract`)).json()) as {
      Links: string[];
      Codes: string[];
    };
    expect(extracted.Links).toEqual(['https://app.example.com/verify?t=abc&u=1']);
    expect(extracted.Codes[0]).toBe('493817');
  });

  it('exposes Prometheus metrics', async () => {
    const text = await (await get('/metrics')).text();
    expect(text).toMatch(/^mailwharf_smtp_connections_total\{listener="smtp"\} [1-9]\d*$/m);
    expect(text).toMatch(
      /^mailwharf_smtp_messages_total\{listener="smtp",outcome="accepted",class="2xx"\} [1-9]\d*$/m,
    );
    expect(text).toMatch(/^mailwharf_smtp_bytes_total\{listener="smtp"\} [1-9]\d*$/m);
    expect(text).toMatch(/^mailwharf_spool_messages \d+$/m);
    expect(text).toMatch(
      /^mailwharf_http_requests_total\{method="GET",route="\/mail\/api\/v1\/messages",status="200"\} [1-9]\d*$/m,
    );
  });

  it('serves message HTML under a CSP that forbids scripts and remote loads', async () => {
    await nodemailer.createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 }).sendMail({
      from: 'x@example.com',
      to: 'csp@example.org',
      subject: 'CSP',
      html: '<script>alert(1)</script><img src="https://tracker.example/p.gif">',
    });
    const waited = (await (await get('/api/mailwharf/wait?query=subject:CSP&timeout=5000')).json()) as {
      ID: string;
    };
    const view = await get(`/view/${waited.ID}.html`);
    const policy = view.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("default-src 'none'");
    expect(policy).not.toMatch(/script-src/);
    expect(policy).toContain('img-src data: cid:;');
    expect(policy).toContain('sandbox');
    const withImages = await get(`/view/${waited.ID}.html?images=1`);
    expect(withImages.headers.get('content-security-policy')).toContain('img-src data: cid: http: https:');
  });

  it('refuses a foreign Host (DNS rebinding) and a cross-site WebSocket origin', async () => {
    const port = mail.server.http?.port() ?? 0;
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const request = httpRequest({ host: '127.0.0.1', port, path: '/mail/livez', headers }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.once('error', reject);
        request.end();
      });
    expect(await status({ host: `127.0.0.1:${String(port)}` })).toBe(200);
    expect(await status({ host: `localhost:${String(port)}` })).toBe(200);
    expect(await status({ host: 'attacker.example' })).toBe(403);
    expect(
      await status({
        host: `127.0.0.1:${String(port)}`,
        origin: 'http://attacker.example',
        upgrade: 'websocket',
        connection: 'Upgrade',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      }),
    ).toBe(403);
  });
});
