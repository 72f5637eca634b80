import { rm } from 'node:fs/promises';
import nodemailer from 'nodemailer';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/config.js';
import { openEvents } from '../helpers/events.js';
import { startServerProcess, writeProcessConfig, type ServerProcess } from '../helpers/process.js';

/**
 * The sink's intake writes run on a writer thread (src/sink/writer-thread.ts). The bundled
 * CLI must really start it (its script sits in the bundle's chunk directory), and a thread
 * that dies after committing a group but before answering must leave those messages listed,
 * announced and tagged as if nothing had happened: the group is written again on the main
 * thread, finds its rows there, and they are new to every listener.
 */
interface Frame {
  readonly Type: string;
  readonly Data: { readonly ID?: string; readonly Tags?: readonly string[] };
}

const servers: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const server of servers) await server.close();
});

function send(port: number, to: string, subject: string): Promise<{ messageId: string; response: string }> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  return transport.sendMail({ from: 'app@example.com', to, subject, text: `body of ${subject}` });
}

describe('the sink writer thread', () => {
  it('a thread that commits and dies before answering: the message is listed, announced and tagged', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const test: TestServer = await startTestServer(
      (raw) => {
        raw.mode = 'capture';
        raw.http = { enabled: true, port: 0 };
        raw.listeners = [
          { name: 'smtp', role: 'relay', port: 0, host: '127.0.0.1', tls: 'none', policy: 'relay' },
        ];
      },
      { logger, sink: { writerScript: new URL('../helpers/dying-writer-worker.mjs', import.meta.url) } },
    );
    servers.push(test);
    const base = `http://127.0.0.1:${String(test.server.http?.port())}`;
    const { socket, frames } = await openEvents<Frame>(base);
    const port = test.port('smtp');
    // The first group is written here while the thread starts; wait until it runs, so that
    // the next group goes to it (and it dies having committed that group).
    await send(port, 'dev+first@local.test', 'first');
    const running = Date.now() + 20_000;
    let second = '';
    for (let n = 0; Date.now() < running; n++) {
      await send(port, `dev+t${String(n)}@local.test`, `probe ${String(n)}`);
      if (lines.some((line) => line.msg === 'sink writer thread failed; the main thread writes the index')) {
        second = `probe ${String(n)}`;
        break;
      }
    }
    expect(second).not.toBe('');
    // It ran, committed that group, and died: not a thread that never started.
    const said = lines.map((line) => line.msg);
    expect(said.indexOf('sink writer thread running')).toBeGreaterThanOrEqual(0);
    expect(said.indexOf('sink writer thread running')).toBeLessThan(
      said.indexOf('dying writer committed its group'),
    );
    expect(lines.find((line) => String(line.msg).startsWith('sink writer thread failed'))?.err).toMatch(
      /exited \(code 3\)/,
    );
    // The message whose group the thread committed before dying: listed, tagged, announced.
    const listed = (await (
      await fetch(`${base}/api/v1/search?query=${encodeURIComponent(`subject:"${second}"`)}`)
    ).json()) as {
      messages: { ID: string; Tags: string[] }[];
    };
    expect(listed.messages).toHaveLength(1);
    const id = listed.messages[0]?.ID ?? '';
    expect(listed.messages[0]?.Tags).toEqual([second.replace('probe ', 't')]);
    expect(frames.filter((f) => f.Type === 'new' && f.Data.ID === id)).toHaveLength(1);
    // Later mail is written on the main thread: still listed at its 250, and nothing is missing.
    const after = await send(port, 'dev@local.test', 'after the thread died');
    expect(after.response).toMatch(/^250 /);
    const all = (await (await fetch(`${base}/api/v1/messages?limit=1000`)).json()) as {
      total: number;
      messages: { Subject: string }[];
    };
    const probes = Number(second.replace('probe ', '')) + 1;
    expect(all.total).toBe(probes + 2);
    expect(all.messages.map((m) => m.Subject).sort()).toEqual(
      [
        'first',
        'after the thread died',
        ...Array.from({ length: probes }, (_, n) => `probe ${String(n)}`),
      ].sort(),
    );
    socket.close();
  });

  it('the bundled CLI starts the thread with the first message and writes through it', async () => {
    const { root, path } = await writeProcessConfig({
      mode: 'capture',
      log: { level: 'debug' },
      http: { enabled: true, port: 0, host: '127.0.0.1' },
    });
    const server: ServerProcess = await startServerProcess(path);
    servers.push({
      close: async () => {
        server.child.kill('SIGTERM');
        await server.exited();
        await rm(root, { recursive: true, force: true });
      },
    });
    expect(server.logs.some((line) => line.msg === 'sink writer thread running')).toBe(false);
    const port = server.ports.smtp ?? 0;
    const deadline = Date.now() + 20_000;
    let sent = 0;
    while (!server.logs.some((line) => line.msg === 'sink writer thread running') && Date.now() < deadline) {
      await send(port, 'dev@local.test', `message ${String(sent++)}`);
    }
    expect(server.logs.some((line) => line.msg === 'sink writer thread running')).toBe(true);
    // One more through the running thread, listed at its 250.
    await send(port, 'dev@local.test', 'through the thread');
    const found = (await (
      await fetch(
        `http://127.0.0.1:${String(server.ports.http)}/api/v1/search?query=${encodeURIComponent('subject:"through the thread"')}`,
      )
    ).json()) as { messages_count: number };
    expect(found.messages_count).toBe(1);
    expect(server.logs.filter((line) => String(line.msg).startsWith('sink writer thread failed'))).toEqual(
      [],
    );
  });
});
