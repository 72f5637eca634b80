import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { hostname } from 'node:os';
import nodemailer from 'nodemailer';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A raw request, so Host and Origin are exactly what the test says (fetch rewrites Host). */
function raw(
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port,
        // A fresh connection per request: no answer depends on how the last one ended.
        agent: false,
        method: options.method ?? 'GET',
        path: options.path,
        // Node sends a DELETE body without framing unless the length is given.
        headers: {
          ...options.headers,
          ...(options.body === undefined
            ? {}
            : { 'content-length': String(Buffer.byteLength(options.body)) }),
        },
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.once('end', () => {
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
        });
      },
    );
    request.once('error', reject);
    request.end(options.body);
  });
}

/** Whether a WebSocket with this Origin is upgraded (open) or refused (the status it got). */
function upgrade(url: string, origin: string): Promise<'open' | number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { origin });
    socket.once('open', () => {
      socket.close();
      resolve('open');
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', () => resolve(0));
  });
}

describe('HTTP hardening: Host and Origin checks on a wildcard bind', () => {
  let mail: Mailwharf;
  let port: number;

  beforeAll(async () => {
    mail = await startMailwharf({
      config: {
        http: {
          enabled: true,
          host: '0.0.0.0',
          port: 0,
          allowedHosts: ['mail.dev.internal'],
          cors: ['http://localhost:3000'],
        },
      },
    });
    port = mail.server.http?.port() ?? 0;
  });
  afterAll(async () => {
    await mail.stop();
  });

  it('serves loopback names, the machine name and allowedHosts; refuses any other Host', async () => {
    const status = async (host: string) => (await raw(port, { path: '/livez', headers: { host } })).status;
    expect(await status(`localhost:${String(port)}`)).toBe(200);
    expect(await status(`127.0.0.1:${String(port)}`)).toBe(200);
    expect(await status(`[::1]:${String(port)}`)).toBe(200);
    expect(await status(`${hostname()}:${String(port)}`)).toBe(200);
    expect(await status('mail.dev.internal')).toBe(200);
    expect(await status('evil.example')).toBe(403);
    expect(await status(`evil.example:${String(port)}`)).toBe(403);
    expect(await status('0.0.0.0')).toBe(403);
  });

  it('upgrades a same-origin WebSocket and refuses a foreign Origin', async () => {
    const url = `ws://127.0.0.1:${String(port)}/api/events`;
    expect(await upgrade(url, `http://127.0.0.1:${String(port)}`)).toBe('open');
    expect(await upgrade(url, 'http://evil.example')).toBe(403);
    expect(await upgrade(url, `http://evil.example:${String(port)}`)).toBe(403);
  });

  it('refuses a state change from a foreign page; allows the http.cors origins', async () => {
    const deleteFrom = (origin: string) =>
      raw(port, {
        method: 'DELETE',
        path: '/api/v1/messages',
        headers: { host: `localhost:${String(port)}`, origin, 'content-type': 'text/plain' },
        body: '{}',
      });
    expect((await deleteFrom('http://evil.example')).status).toBe(403);
    expect((await deleteFrom('null')).status).toBe(403);
    expect((await deleteFrom('http://localhost:3000')).status).toBe(200);
    const preflight = await raw(port, {
      method: 'OPTIONS',
      path: '/api/v1/messages',
      headers: {
        host: `localhost:${String(port)}`,
        origin: 'http://localhost:3000',
        'access-control-request-method': 'DELETE',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('http://localhost:3000');
    const listed = await raw(port, {
      path: '/api/v1/messages',
      headers: { host: `localhost:${String(port)}`, origin: 'http://evil.example' },
    });
    expect(listed.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('HTTP hardening: bound to another loopback address', () => {
  it('answers to 127.0.0.2 and loopback names, not to a foreign Host', async () => {
    const mail = await startMailwharf({ config: { http: { enabled: true, host: '127.0.0.2', port: 0 } } });
    try {
      const port = mail.server.http?.port() ?? 0;
      const status = (host: string) =>
        new Promise<number>((resolve, reject) => {
          const request = httpRequest({ host: '127.0.0.2', port, path: '/livez', headers: { host } }, (r) => {
            r.resume();
            resolve(r.statusCode ?? 0);
          });
          request.once('error', reject);
          request.end();
        });
      expect(await status(`127.0.0.2:${String(port)}`)).toBe(200);
      expect(await status('localhost')).toBe(200);
      expect(await status('evil.example')).toBe(403);
      expect(await status(hostname())).toBe(hostname() === 'localhost' ? 200 : 403);
    } finally {
      await mail.stop();
    }
  });
});

describe('HTTP hardening: bad bodies, paths and headers', () => {
  let mail: Mailwharf;
  let port: number;
  const ask = (method: string, path: string, body?: string, contentType?: string) =>
    raw(port, {
      method,
      path,
      headers: contentType === undefined ? {} : { 'content-type': contentType },
      ...(body === undefined ? {} : { body }),
    });

  beforeAll(async () => {
    mail = await startMailwharf({ config: { http: { enabled: true, port: 0 } } });
    port = mail.server.http?.port() ?? 0;
    await nodemailer.createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 }).sendMail({
      from: 'news@example.com',
      to: 'reader@example.org',
      subject: 'Weekly news',
      text: 'Hello',
      headers: {
        'List-Unsubscribe': '<mailto:leave@example.com?subject=unsubscribe>, <https://example.com/u/42>',
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      },
    });
    await mail.waitForMessage({ subject: 'Weekly news' });
  });
  afterAll(async () => {
    await mail.stop();
  });

  const cases: [method: string, path: string, body: string, type: string, expected: RegExp][] = [
    // A declared form is read only on PUT/DELETE /api/v1/messages (mailpit-api-client-python.test.ts).
    ['PUT', '/api/v1/tags', 'IDs=a&Tags=x', 'application/x-www-form-urlencoded', /Invalid JSON/],
    ['DELETE', '/api/v1/messages', 'IDs=a', 'text/plain', /Invalid JSON/],
    ['DELETE', '/api/v1/messages', '', 'application/json', /Empty request body/],
    ['PUT', '/api/v1/messages', '', 'application/json', /Empty request body/],
    ['DELETE', '/api/v1/messages', '["a"]', 'application/json', /expected an object/],
    ['DELETE', '/api/v1/messages', 'null', 'application/json', /expected an object/],
    [
      'DELETE',
      '/api/v1/search?query=news',
      'query=news',
      'application/x-www-form-urlencoded',
      /Invalid JSON/,
    ],
    ['POST', '/api/v1/send', '{"From":', 'application/json', /Invalid JSON/],
  ];
  it.each(cases)(
    '%s %s with %j (%s) is a 400 naming the problem',
    async (method, path, body, type, expected) => {
      const answer = await ask(method, path, body, type);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatch(expected);
      // Nothing was deleted by a body that could not be read.
      const list = JSON.parse((await ask('GET', '/api/v1/messages')).body) as { total: number };
      expect(list.total).toBe(1);
    },
  );

  it('collapses repeated slashes, as cypress-mailpit asks for //view/ID.html', async () => {
    const [message] = mail.messages();
    const id = message?.id ?? '';
    const view = await ask('GET', `//view/${id}.html`);
    expect(view.status).toBe(200);
    expect((await ask('GET', `/api//v1//message/${id}`)).status).toBe(200);
  });

  it('fills ListUnsubscribe from the header', async () => {
    const [message] = mail.messages();
    const json = JSON.parse((await ask('GET', `/api/v1/message/${message?.id ?? ''}`)).body) as {
      ListUnsubscribe: { Header: string; Links: string[]; HeaderPost: string };
    };
    expect(json.ListUnsubscribe).toMatchObject({
      Header: '<mailto:leave@example.com?subject=unsubscribe>, <https://example.com/u/42>',
      Links: ['mailto:leave@example.com?subject=unsubscribe', 'https://example.com/u/42'],
      HeaderPost: 'List-Unsubscribe=One-Click',
    });
  });
});
