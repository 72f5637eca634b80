import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/sink/database.js';
import { INDEX_FILE } from '../../src/sink/sink.js';
import { Spool } from '../../src/spool/spool.js';
import { runCli, startServerProcess, writeProcessConfig, type ServerProcess } from '../helpers/process.js';
import { sendUntilKilled, type LoadMessage } from '../helpers/send-until-killed.js';
import { SmtpProbe } from '../helpers/smtp-probe.js';

const CLIENTS = 10;
/** Kill once this many messages are acknowledged, so the kill lands mid-load. */
const KILL_AFTER_ACKS = 80;

interface Sent {
  readonly subject: string;
  /** A word only this message's body holds (bare-word search goes through the full-text index). */
  readonly token: string;
}

function makeMessage(client: number, n: number): LoadMessage<Sent> {
  const token = `tok${String(client)}x${String(n)}q`;
  const subject = `crash ${String(client)}/${String(n)}`;
  const filler = randomBytes(600).toString('base64').replace(/.{76}/g, '$&\r\n');
  return {
    data: `Subject: ${subject}\r\nFrom: load@crash.test\r\nTo: sink@local.test\r\n\r\n${filler}\r\n${token}\r\n.\r\n`,
    kept: { subject, token },
  };
}

async function search(server: ServerProcess, path: string): Promise<List> {
  const response = await fetch(`http://127.0.0.1:${String(server.ports.http)}${path}`);
  expect(response.status).toBe(200);
  return (await response.json()) as List;
}

interface List {
  readonly total: number;
  readonly messages_count: number;
  readonly messages: readonly { ID: string; Subject: string }[];
}

async function listedIds(server: ServerProcess): Promise<Set<string>> {
  const body = await search(server, '/api/v1/messages?limit=10000');
  return new Set(body.messages.map((m) => m.ID));
}

function readyLog(server: ServerProcess): Record<string, unknown> | undefined {
  return server.logs.find((entry) => entry.msg === 'sink index ready');
}

async function stop(server: ServerProcess): Promise<void> {
  server.child.kill('SIGTERM');
  expect((await server.exited()).code).toBe(0);
}

describe('the sink index after a crash, a lost or broken index file, and reindex', () => {
  const roots: string[] = [];
  afterAll(async () => {
    await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  });

  it('SIGKILL under load, then restart: every acknowledged message is listed and searchable', async () => {
    const { root, path, spool } = await writeProcessConfig({
      mode: 'capture',
      http: { enabled: true, port: 0 },
      sink: { retention: { maxMessages: 0 } },
    });
    roots.push(root);
    const server = await startServerProcess(path);
    const port = server.ports.smtp ?? 0;
    const { acked, killed } = await sendUntilKilled(server, {
      port,
      clients: CLIENTS,
      killAfter: KILL_AFTER_ACKS,
      message: makeMessage,
    });
    expect(killed).toBe(true);
    expect((await server.exited()).signal).toBe('SIGKILL');

    const restarted = await startServerProcess(path);
    try {
      const listed = await listedIds(restarted);
      for (const id of acked.keys()) expect(listed.has(id), `acknowledged ${id} is listed`).toBe(true);
      for (const [id, sent] of acked) {
        const bySubject = await search(
          restarted,
          `/api/v1/search?query=${encodeURIComponent(`subject:"${sent.subject}"`)}`,
        );
        expect(
          bySubject.messages.map((m) => m.ID),
          sent.subject,
        ).toEqual([id]);
        const byWord = await search(restarted, `/api/v1/search?query=${sent.token}`);
        expect(
          byWord.messages.map((m) => m.ID),
          sent.token,
        ).toEqual([id]);
      }
    } finally {
      await stop(restarted);
    }

    // A clean restart reads nothing it has indexed already.
    const again = await startServerProcess(path);
    expect(readyLog(again)).toMatchObject({ added: 0, completed: 0 });
    // Every message in the spool, and nothing else (queue list shows only mail waiting for delivery).
    expect((await listedIds(again)).size).toBe(await spoolCount(spool));
    await stop(again);
  }, 120_000);

  it('rebuilds a deleted, corrupt or newer-schema index, indexes what a crash left out, and `sink reindex` rebuilds', async () => {
    const { root, path, spool } = await writeProcessConfig({
      mode: 'capture',
      http: { enabled: true, port: 0 },
    });
    roots.push(root);
    const first = await startServerProcess(path);
    const ids: string[] = [];
    const probe = await SmtpProbe.connect(first.ports.smtp ?? 0);
    await probe.read();
    await probe.command('EHLO crash.test');
    for (let n = 0; n < 12; n++) {
      await probe.command('MAIL FROM:<a@crash.test>');
      await probe.command('RCPT TO:<sink@local.test>');
      await probe.command('DATA');
      probe.write(makeMessage(0, n).data);
      const id = /queued as ([0-9A-Z]{17})$/.exec((await probe.read()).last)?.[1];
      if (id !== undefined) ids.push(id);
    }
    probe.close();
    expect(ids).toHaveLength(12);
    // Read state lives in the index: it survives a restart.
    await fetch(`http://127.0.0.1:${String(first.ports.http)}/api/v1/message/${ids[0] ?? ''}`);
    await stop(first);
    const index = join(spool, INDEX_FILE);

    // A kill between the spool commit and the index insert: rows missing, files there, and
    // no clean-close mark (a killed server writes none).
    const db = openDatabase(index);
    db.statement('DELETE FROM messages WHERE id IN (?, ?)').run(ids[3] ?? '', ids[7] ?? '');
    db.statement("DELETE FROM meta WHERE key = 'clean'").run();
    db.close();
    let server = await startServerProcess(path);
    expect(readyLog(server)).toMatchObject({ added: 2, messages: 12 });
    expect([...(await listedIds(server))].sort()).toEqual([...ids].sort());
    expect((await search(server, '/api/v1/search?query=is:read')).messages.map((m) => m.ID)).toEqual([
      ids[0],
    ]);
    await stop(server);

    const damage: Record<string, () => Promise<void>> = {
      deleted: () => rm(index, { force: true }),
      corrupt: async () => {
        await rm(`${index}-wal`, { force: true });
        await rm(`${index}-shm`, { force: true });
        await writeFile(index, randomBytes(8192));
      },
      'newer schema': () => {
        const newer = openDatabase(index);
        newer.setUserVersion(999);
        newer.close();
        return Promise.resolve();
      },
    };
    for (const [what, harm] of Object.entries(damage)) {
      await harm();
      server = await startServerProcess(path);
      expect(readyLog(server), what).toMatchObject({ added: 12, messages: 12 });
      expect([...(await listedIds(server))].sort(), what).toEqual([...ids].sort());
      await stop(server);
    }

    // While a server runs it holds the spool: reindex refuses, naming why.
    server = await startServerProcess(path);
    const refused = await runCli(['sink', 'reindex', '--config', path]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/lock|in use|running/i);
    await stop(server);
    const reindexed = await runCli(['sink', 'reindex', '--config', path]);
    expect(reindexed.code, reindexed.stderr).toBe(0);
    expect(reindexed.stdout).toMatch(/^reindexed 12 captured messages in \d+ ms\n$/);
    server = await startServerProcess(path);
    expect(readyLog(server)).toMatchObject({ added: 0, messages: 12 });
    await stop(server);
  }, 120_000);

  it('a row a crash left header-only is completed on start and tagged by the rules that read the body', async () => {
    const { root, path, spool } = await writeProcessConfig({
      mode: 'capture',
      http: { enabled: true, port: 0 },
      sink: { tagRules: [{ match: 'zebracorn', tags: ['body-rule'] }] },
    });
    roots.push(root);
    const first = await startServerProcess(path);
    const probe = await SmtpProbe.connect(first.ports.smtp ?? 0);
    await probe.read();
    await probe.command('EHLO crash.test');
    await probe.command('MAIL FROM:<a@crash.test>');
    await probe.command('RCPT TO:<sink@local.test>');
    await probe.command('DATA');
    probe.write('Subject: plain subject\r\nFrom: a@crash.test\r\n\r\nthe body names a zebracorn\r\n.\r\n');
    const id = /queued as ([0-9A-Z]{17})$/.exec((await probe.read()).last)?.[1] ?? '';
    probe.close();
    await stop(first);

    // As a kill between the header-only row (a large message, before its 250) and its
    // completion leaves it: not complete, without the body's tags, no clean-close mark.
    const db = openDatabase(join(spool, INDEX_FILE));
    db.statement('UPDATE messages SET complete = 0 WHERE id = ?').run(id);
    db.statement('DELETE FROM tags WHERE seq = (SELECT seq FROM messages WHERE id = ?)').run(id);
    db.statement("DELETE FROM meta WHERE key = 'clean'").run();
    db.close();

    const server = await startServerProcess(path);
    expect(readyLog(server)).toMatchObject({ completed: 1, messages: 1 });
    const response = await fetch(`http://127.0.0.1:${String(server.ports.http)}/api/v1/message/${id}`);
    expect(((await response.json()) as { Tags: string[] }).Tags).toEqual(['body-rule']);
    await stop(server);
  }, 60_000);
});

/** How many messages the spool holds, as `mailwharf queue list` tells an operator. */
async function spoolCount(spool: string): Promise<number> {
  return Spool.inspect(spool).count();
}
