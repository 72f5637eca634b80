import { readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, writeProcessConfig, type ServerProcess } from '../helpers/process.js';

const LIMIT = 1024 * 1024;
const UPLOAD = 60 * 1024 * 1024;

/** Resident and peak resident KiB of a process, from /proc (Linux). */
async function memory(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${String(pid)}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

/**
 * Streams a Mailpit send body of `size` bytes in chunks, without a Content-Length, so only a
 * limit counted while the body streams in can stop it. Resolves with the status once answered,
 * or with "reset" when the connection was cut before the client could read an answer: the
 * server must linger after its 413 so that never happens.
 */
function streamSend(port: number, size: number): Promise<number | 'reset'> {
  return new Promise((resolve, reject) => {
    const head = '{"From":{"Email":"app@example.com"},"To":[{"Email":"dev@example.org"}],"Text":"';
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let sent = 0;
    let answered = false;
    const request = httpRequest(
      { host: '127.0.0.1', port, method: 'POST', path: '/api/v1/send', agent: false },
      (response) => {
        answered = true;
        response.resume();
        resolve(response.statusCode ?? 0);
        request.destroy();
      },
    );
    request.setHeader('content-type', 'application/json');
    request.once('error', (error: NodeJS.ErrnoException) => {
      if (answered) return;
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET') resolve('reset');
      else reject(error);
    });
    const pump = (): void => {
      while (!answered && sent < size) {
        sent += chunk.length;
        if (!request.write(chunk)) {
          request.once('drain', pump);
          return;
        }
      }
      if (!answered) request.end('"}');
    };
    request.write(head);
    pump();
  });
}

describe('POST /api/v1/send honours maxMessageSize while the body streams in', () => {
  let server: ServerProcess;
  let root: string;
  let port: number;

  beforeAll(async () => {
    const written = await writeProcessConfig({
      mode: 'capture',
      http: { enabled: true, port: 0 },
      policies: { relay: { auth: 'none', limits: { maxMessageSize: LIMIT } } },
    });
    root = written.root;
    server = await startServerProcess(written.path);
    port = server.ports.http ?? 0;
  });
  afterAll(async () => {
    server.child.kill('SIGTERM');
    await server.exited();
    await rm(root, { recursive: true, force: true });
  });

  it('takes a message under the limit and refuses one over it, with or without a length', async () => {
    const url = `http://127.0.0.1:${String(port)}/api/v1/send`;
    const total = async (): Promise<number> =>
      ((await (await fetch(`http://127.0.0.1:${String(port)}/api/v1/messages`)).json()) as { total: number })
        .total;
    const small = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        From: { Email: 'a@example.com' },
        To: [{ Email: 'b@example.org' }],
        Text: 'hi',
      }),
    });
    expect(small.status).toBe(200);
    const stored = await total();
    // Over the limit by its Content-Length: refused before the body is read, and the client,
    // still sending, reads the 413 (not a reset).
    const declared = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        From: { Email: 'a@example.com' },
        To: [{ Email: 'b@example.org' }],
        Text: 'y'.repeat(2 * LIMIT),
      }),
    }).then(
      (response) => response.status,
      () => 'reset' as const,
    );
    expect(declared).toBe(413);
    // Under the JSON limit (base64 room) but over maxMessageSize once built: read whole, so always 413.
    const built = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        From: { Email: 'a@example.com' },
        To: [{ Email: 'b@example.org' }],
        Attachments: [{ Filename: 'a.bin', Content: Buffer.alloc(LIMIT, 7).toString('base64') }],
      }),
    });
    expect(built.status).toBe(413);
    expect(await built.text()).toMatch(/Message too large/);
    expect(await streamSend(port, UPLOAD)).toBe(413);
    expect(await total()).toBe(stored);
  });

  it('keeps RSS within 30 MiB of idle while refusing six 60 MiB bodies at once', async () => {
    const pid = server.child.pid ?? 0;
    expect(await streamSend(port, 2 * LIMIT)).toBe(413);
    const total = async (): Promise<number> =>
      ((await (await fetch(`http://127.0.0.1:${String(port)}/api/v1/messages`)).json()) as { total: number })
        .total;
    const storedBefore = await total();
    const idle = await memory(pid);
    // Linux: writing 5 resets the peak (VmHWM) to the current RSS, so the peak is this test's.
    await writeFile(`/proc/${String(pid)}/clear_refs`, '5');
    const statuses = await Promise.all(Array.from({ length: 6 }, () => streamSend(port, UPLOAD)));
    // Every upload is refused, and none is stored.
    expect(statuses).toEqual([413, 413, 413, 413, 413, 413]);
    expect(await total()).toBe(storedBefore);
    const after = await memory(pid);
    const growthMiB = (after.peak - idle.rss) / 1024;
    console.log(
      `send 6 x 60 MiB over the limit: idle RSS ${(idle.rss / 1024).toFixed(1)} MiB, peak +${growthMiB.toFixed(1)} MiB`,
    );
    expect(growthMiB).toBeLessThan(30);
  });
});
