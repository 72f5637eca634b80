import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/sink/database.js';
import { captureWithHttp, startTestServer, type TestServer } from '../helpers/config.js';

/**
 * An API write that finds the index locked by another writer for the whole wait (5 s) is not
 * the client's mistake, and not a fault of the server either: 503 with Retry-After, never 500.
 */
const servers: TestServer[] = [];
afterAll(async () => {
  for (const server of servers) await server.close();
});

describe('an API write while another writer holds the index', () => {
  it('answers 503 with Retry-After, and the same request succeeds once the lock goes', async () => {
    const test = await startTestServer(captureWithHttp);
    servers.push(test);
    const base = `http://127.0.0.1:${String(test.server.http?.port())}`;
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: test.port('smtp'),
      secure: false,
      ignoreTLS: true,
    });
    await transport.sendMail({ from: 'app@example.com', to: 'dev@local.test', subject: 'tag me', text: 'x' });
    const listed = (await (await fetch(`${base}/api/v1/messages`)).json()) as { messages: { ID: string }[] };
    const id = listed.messages[0]?.ID ?? '';
    expect(id).not.toBe('');
    const requests = [
      () =>
        fetch(`${base}/api/v1/tags`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ IDs: [id], Tags: ['held'] }),
        }),
      () =>
        fetch(`${base}/api/v1/messages`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ IDs: [id], Read: true }),
        }),
      () => fetch(`${base}/api/v1/tags/held`, { method: 'DELETE' }),
    ];
    // Another writer (a reindex run by hand, a script) holds the rows file's write lock.
    const other = openDatabase(join(test.config.spool.dir, 'sink.sqlite'));
    other.exec('BEGIN IMMEDIATE');
    try {
      for (const request of requests) {
        const response = await request();
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toBe('1');
        expect(await response.text()).toMatch(/busy/);
      }
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    for (const request of requests) expect((await request()).status).toBe(200);
    const message = (await (await fetch(`${base}/api/v1/message/${id}`)).json()) as {
      Read: boolean;
      Tags: string[];
    };
    expect(message.Read).toBe(true);
    expect(message.Tags).toEqual([]);
  }, 60_000);
});
