import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/spool/envelope.js';
import { Spool } from '../../src/spool/spool.js';
import { runCli, startServerProcess, writeProcessConfig } from '../helpers/process.js';
import { sendUntilKilled } from '../helpers/send-until-killed.js';

const CLIENTS = 10;
/** Kill once this many messages are acknowledged, so the kill lands mid-load. */
const KILL_AFTER_ACKS = 60;

/** A unique message with lines that need dot-stuffing, a few KiB of body. */
function makeMessage(client: number, n: number): string {
  const filler = randomBytes(1500 + ((client * 7 + n) % 5) * 700)
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  return `Message-ID: <c${client}-n${n}@crash.test>\r\nSubject: crash ${client}/${n}\r\n\r\n.leading dot\r\n${filler}\r\nend ${client}/${n}\r\n`;
}

/** A message as the load sends it: its wire form (dot-stuffed, terminated), the message kept. */
function onTheWire(message: string): { data: string; kept: string } {
  return { data: `${message.replace(/^\./gm, '..')}.\r\n`, kept: message };
}

/** Stored message minus our Received header (its first line and the tab-folded ones). */
function withoutReceived(stored: string): string {
  const lines = stored.split('\r\n');
  let index = 1;
  while (lines[index]?.startsWith('\t')) index++;
  return lines.slice(index).join('\r\n');
}

describe('kill -9 under load', () => {
  const roots: string[] = [];
  afterAll(async () => {
    await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  });

  it('keeps every acknowledged message, byte-identical, and lists no partial one', async () => {
    const { root, path, spool } = await writeProcessConfig();
    roots.push(root);
    const server = await startServerProcess(path);
    const port = server.ports.smtp;
    if (port === undefined) throw new Error('no smtp port');

    const { sent, acked, killed } = await sendUntilKilled(server, {
      port,
      clients: CLIENTS,
      killAfter: KILL_AFTER_ACKS,
      message: (client, n) => onTheWire(makeMessage(client, n)),
    });
    expect(killed, 'the server was killed mid-load').toBe(true);
    const exit = await server.exited();
    expect(exit.signal).toBe('SIGKILL');
    expect(acked.size).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
    const inspect = Spool.inspect(spool);

    // Before any restart: what the crash left, read by the CLI as an operator would.
    const listed = await runCli(['queue', 'list', '--json', '--config', path]);
    expect(listed.code, listed.stderr).toBe(0);
    const envelopes = JSON.parse(listed.stdout) as Envelope[];
    const listedIds = new Set(envelopes.map((envelope) => envelope.id));
    for (const id of acked.keys()) expect(listedIds.has(id), `acknowledged ${id} is listed`).toBe(true);

    // Every listed message is whole: acknowledged ones are byte-identical, and any
    // committed just before the kill (250 not yet read) is identical to one that was sent.
    // Each is read from the spool; the first few through `queue show`, as an operator would
    // (a process per message for all of them would only make the test slow).
    const sentBodies = new Set(sent);
    for (const [index, envelope] of envelopes.entries()) {
      let stored: string;
      if (index < 8) {
        const shown = await runCli(['queue', 'show', envelope.id, '--config', path]);
        expect(shown.code).toBe(0);
        stored = shown.stdout;
      } else {
        // Read as the queue CLI reads it (the journal or queue/), its envelope with it.
        expect(await inspect.envelope(envelope.id)).toMatchObject({ id: envelope.id, size: envelope.size });
        stored = (await inspect.readBytes(envelope)).toString('latin1');
      }
      const body = withoutReceived(stored);
      const expected = acked.get(envelope.id);
      if (expected !== undefined) expect(body).toBe(expected);
      else expect(sentBodies.has(body), `unacknowledged ${envelope.id} is a whole message`).toBe(true);
      expect(envelope.size).toBe(Buffer.byteLength(stored, 'latin1'));
    }

    // A restart removes whatever was in flight and keeps exactly what was listed. (The
    // restarted delivery worker stages its own state files in tmp/, so compare by name.)
    const leftovers = await readdir(join(spool, 'tmp'));
    const restarted = await startServerProcess(path);
    const remaining = new Set(await readdir(join(spool, 'tmp')));
    expect(leftovers.filter((name) => remaining.has(name))).toEqual([]);
    const after = await runCli(['queue', 'list', '--json', '--config', path]);
    expect((JSON.parse(after.stdout) as Envelope[]).map((e) => e.id).sort()).toEqual([...listedIds].sort());
    restarted.child.kill('SIGTERM');
    expect((await restarted.exited()).code).toBe(0);
  }, 60_000);

  it('the journal: many small messages from parallel clients, kill -9, restart; every acknowledged one listed with its bytes', async () => {
    const { root, path, spool } = await writeProcessConfig();
    roots.push(root);
    const server = await startServerProcess(path);
    const port = server.ports.smtp;
    if (port === undefined) throw new Error('no smtp port');
    // Small enough to be held in memory, so each is one journal record; many commits meet in a group.
    const small = (client: number, n: number): string =>
      `Message-ID: <j${client}-n${n}@crash.test>\r\nSubject: journal ${client}/${n}\r\n\r\n.dot\r\n${randomBytes(100 + ((client + n) % 7) * 90).toString('hex')}\r\n`;
    const { sent, acked, killed } = await sendUntilKilled(server, {
      port,
      clients: 25,
      killAfter: 400,
      message: (client, n) => onTheWire(small(client, n)),
    });
    expect(killed, 'the server was killed mid-load').toBe(true);
    expect((await server.exited()).signal).toBe('SIGKILL');

    const restarted = await startServerProcess(path);
    try {
      // Read beside the restarted server, as an operator would.
      const listed = await runCli(['queue', 'list', '--json', '--config', path]);
      expect(listed.code, listed.stderr).toBe(0);
      const envelopes = new Map((JSON.parse(listed.stdout) as Envelope[]).map((e) => [e.id, e]));
      const inspect = Spool.inspect(spool);
      const sentBodies = new Set(sent);
      for (const [id, message] of acked) {
        const envelope = envelopes.get(id);
        expect(envelope, `acknowledged ${id} is listed`).toBeDefined();
        if (envelope)
          expect(withoutReceived((await inspect.readBytes(envelope)).toString('latin1'))).toBe(message);
      }
      for (const envelope of envelopes.values()) {
        if (acked.has(envelope.id)) continue;
        const body = withoutReceived((await inspect.readBytes(envelope)).toString('latin1'));
        expect(sentBodies.has(body), `unacknowledged ${envelope.id} is a whole message`).toBe(true);
      }
      const shown = await runCli(['queue', 'show', [...acked.keys()][0] ?? '', '--config', path]);
      expect(withoutReceived(shown.stdout)).toBe([...acked.values()][0]);
      // They were journal records, not files; a torn tail is cut off, never quarantined.
      expect((await readdir(join(spool, 'journal'))).length).toBeGreaterThan(0);
      expect((await readdir(join(spool, 'queue'))).filter((name) => name.endsWith('.eml'))).toEqual([]);
      expect(await readdir(spool)).not.toContain('quarantine');
    } finally {
      restarted.child.kill('SIGTERM');
      expect((await restarted.exited()).code).toBe(0);
    }
  }, 120_000);
});
