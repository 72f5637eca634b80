import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/sink/database.js';
import { captureWithHttp, startTestServer, type TestServer } from '../helpers/config.js';
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

function failed(line: Record<string, unknown>, role: 'rows' | 'text'): boolean {
  return line.msg === 'sink writer thread failed; the main thread writes the index' && line.role === role;
}

describe('the sink writer thread', () => {
  it('a thread that commits and dies before answering: the message is listed, announced and tagged', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const test: TestServer = await startTestServer(captureWithHttp, {
      logger,
      sink: { writerScript: new URL('../helpers/dying-writer-worker.mjs', import.meta.url) },
    });
    servers.push(test);
    const base = `http://127.0.0.1:${String(test.server.http?.port())}`;
    const { socket, frames } = await openEvents<Frame>(base);
    const port = test.port('smtp');
    // The first group is written here while the thread starts; wait until it runs, so that
    // the next group goes to it (and it dies having committed that group).
    await send(port, 'dev+first@local.test', 'first');
    const deadline = Date.now() + 20_000;
    let second = '';
    for (let n = 0; Date.now() < deadline; n++) {
      await send(port, `dev+t${String(n)}@local.test`, `probe ${String(n)}`);
      if (lines.some((line) => failed(line, 'rows'))) {
        second = `probe ${String(n)}`;
        break;
      }
    }
    expect(second).not.toBe('');
    // It ran, committed that group, and died: not a thread that never started.
    const running = lines.findIndex(
      (line) => line.msg === 'sink writer thread running' && line.role === 'rows',
    );
    expect(running).toBeGreaterThanOrEqual(0);
    expect(running).toBeLessThan(lines.findIndex((line) => line.msg === 'dying rows thread made its write'));
    expect(lines.find((line) => failed(line, 'rows'))?.err).toMatch(/exited \(code 3\)/);
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

  it('the bundled CLI starts both threads: rows through one, text moved by the other', async () => {
    const { root, path, spool } = await writeProcessConfig({
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
    const running = (role: string): boolean =>
      server.logs.some((line) => line.msg === 'sink writer thread running' && line.role === role);
    expect(running('rows') || running('text')).toBe(false);
    const port = server.ports.smtp ?? 0;
    const deadline = Date.now() + 20_000;
    let sent = 0;
    while (!running('rows') && Date.now() < deadline) {
      await send(port, 'dev@local.test', `message ${String(sent++)}`);
    }
    expect(running('rows')).toBe(true);
    // One more through the running thread, listed at its 250.
    await send(port, 'dev@local.test', 'through the thread');
    const search = async (query: string): Promise<number> =>
      (
        (await (
          await fetch(
            `http://127.0.0.1:${String(server.ports.http)}/api/v1/search?query=${encodeURIComponent(query)}`,
          )
        ).json()) as { messages_count: number }
      ).messages_count;
    expect(await search('subject:"through the thread"')).toBe(1);
    // The text thread starts with the first round (due a second after the first row) and
    // moves every staged row into the text file, where the same searches find them.
    const text = openDatabase(join(spool, 'sink-text.sqlite'));
    const staged = openDatabase(join(spool, 'sink.sqlite'));
    const moved = (): number => text.statement<{ upto: number }>('SELECT upto FROM moved').get()?.upto ?? 0;
    const lastStage = (): number =>
      staged.statement<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'text_staging'").get()
        ?.seq ?? -1;
    while ((!running('text') || moved() < lastStage()) && Date.now() < deadline + 20_000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(running('text')).toBe(true);
    expect(moved()).toBe(lastStage());
    expect(text.statement<{ n: number }>('SELECT count(*) AS n FROM search_text').get()?.n).toBe(sent + 1);
    text.close();
    staged.close();
    expect(await search('"body of through the thread"')).toBe(1);
    expect(await search('subject:"through the thread"')).toBe(1);
    expect(server.logs.filter((line) => String(line.msg).startsWith('sink writer thread failed'))).toEqual(
      [],
    );
  });

  it('with the text file locked (as by a long round), mail is answered, listed and found; it moves after', async () => {
    const test: TestServer = await startTestServer(captureWithHttp);
    servers.push(test);
    const base = `http://127.0.0.1:${String(test.server.http?.port())}`;
    const port = test.port('smtp');
    await send(port, 'dev@local.test', 'before the lock');
    // Hold the text file's write lock, as a long move would (the old one-file index took the
    // rows' lock with it, and every 250 waited for it).
    const text = openDatabase(join(test.config.spool.dir, 'sink-text.sqlite'));
    text.exec('BEGIN IMMEDIATE');
    // (That a round takes only one file's lock at a time is shown in text-mover.test.ts.)
    const sent = 30;
    try {
      for (let n = 0; n < sent; n++) {
        const sent = await send(port, 'dev@local.test', `while locked ${String(n)}`);
        expect(sent.response).toMatch(/^250 /);
        // Listed and found by its body (staged text) at its 250.
        const found = (await (
          await fetch(
            `${base}/api/v1/search?query=${encodeURIComponent(`"body of while locked ${String(n)}"`)}`,
          )
        ).json()) as { messages_count: number };
        expect(found.messages_count).toBe(1);
      }
    } finally {
      text.exec('ROLLBACK');
    }
    // Once the lock goes, the rounds move everything in.
    const rows = openDatabase(join(test.config.spool.dir, 'sink.sqlite'));
    const deadline = Date.now() + 30_000;
    const left = (): number =>
      rows.statement<{ n: number }>('SELECT count(*) AS n FROM text_staging').get()?.n ?? -1;
    while (left() !== 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(left()).toBe(0);
    rows.close();
    expect(text.statement<{ n: number }>('SELECT count(*) AS n FROM search_text').get()?.n).toBe(sent + 1);
    text.close();
    const found = (await (
      await fetch(
        `${base}/api/v1/search?query=${encodeURIComponent(`"body of while locked ${String(sent - 1)}"`)}`,
      )
    ).json()) as { messages_count: number };
    expect(found.messages_count).toBe(1);
  });
});
