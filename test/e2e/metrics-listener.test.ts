/**
 * `metrics: {host, port}` serves Prometheus metrics with the web UI off (a production relay):
 * SMTP counters, the auth-failure counter, and the process metrics under the standard
 * unprefixed names Node.js dashboards query.
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ALICE } from '../helpers/config.js';
import { startTestServer, type TestServer } from '../helpers/config.js';

let mw: TestServer;
let base: string;
beforeAll(async () => {
  mw = await startTestServer((raw) => {
    raw.metrics = { host: '127.0.0.1', port: 0 };
  });
  base = `http://127.0.0.1:${String(mw.port('metrics'))}`;
});
afterAll(async () => {
  await mw.close();
});

it('serves /metrics on its own port while the web UI is off', async () => {
  expect(mw.config.http.enabled).toBe(false);
  expect(mw.server.ports.http).toBeUndefined();
  await nodemailer
    .createTransport({ host: '127.0.0.1', port: mw.port('smtp'), tls: { ca: mw.ca, servername: 'mx.test' } })
    .sendMail({ from: 'app@local.test', to: 'user@local.test', subject: 'counted', text: 'x' });
  const response = await fetch(`${base}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  const text = await response.text();
  expect(text).toMatch(/^mailwharf_smtp_connections_total\{listener="smtp"\} [1-9]\d*$/m);
  expect(text).toMatch(
    /^mailwharf_smtp_messages_total\{listener="smtp",outcome="accepted",class="2xx"\} 1$/m,
  );
  expect(text).toMatch(/^mailwharf_spool_messages \d+$/m);
  // Process metrics under prom-client's default names, as Node.js dashboards expect.
  expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
  expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
  expect(text).not.toContain('mailwharf_process_');
  expect(text).not.toContain('mailwharf_nodejs_');
});

it('counts failed AUTH attempts by listener', async () => {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: mw.port('submission'),
    requireTLS: true,
    tls: { ca: mw.ca, servername: 'mx.test' },
    auth: { user: ALICE.username, pass: 'wrong password' },
  });
  await expect(transport.verify()).rejects.toMatchObject({ responseCode: 535 });
  await expect(transport.verify()).rejects.toMatchObject({ responseCode: 535 });
  const text = await (await fetch(`${base}/metrics`)).text();
  expect(text).toMatch(/^mailwharf_smtp_auth_failures_total\{listener="submission"\} 2$/m);
});

it('answers 404 off /metrics and 405 for a POST', async () => {
  expect((await fetch(`${base}/`)).status).toBe(404);
  expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
});
