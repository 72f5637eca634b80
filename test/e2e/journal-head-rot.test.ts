import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { segmentName } from '../../src/spool/journal.js';
import { flipByteOf } from '../helpers/flip-byte.js';
import { startServerProcess, writeProcessConfig, type ServerProcess } from '../helpers/process.js';
import { SmtpProbe } from '../helpers/smtp-probe.js';

/**
 * Rot in an acknowledged record of the head segment, before a kill -9, not yet found by a read
 * or the scrub: the restart keeps every whole record after it (it used to cut the head at the
 * damage, and those messages were left only in quarantine/), names the damaged one in its log,
 * and no view lists it.
 */
describe('the journal head with a damaged record in the middle, after kill -9', () => {
  const roots: string[] = [];
  afterAll(async () => {
    await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  });

  async function listed(server: ServerProcess): Promise<string[]> {
    const response = await fetch(`http://127.0.0.1:${String(server.ports.http)}/api/v1/messages?limit=100`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { messages: { ID: string }[] }).messages.map((m) => m.ID).sort();
  }

  it('keeps the messages after it, drops the damaged one from every view, and logs it by id', async () => {
    const { root, path, spool } = await writeProcessConfig({
      mode: 'capture',
      http: { enabled: true, port: 0 },
    });
    roots.push(root);
    const first = await startServerProcess(path);
    const ids: string[] = [];
    const probe = await SmtpProbe.connect(first.ports.smtp ?? 0);
    await probe.read();
    await probe.command('EHLO rot.test');
    for (const word of ['FIRST', 'ROTTEN', 'THIRD', 'FOURTH']) {
      await probe.command('MAIL FROM:<a@rot.test>');
      await probe.command('RCPT TO:<sink@local.test>');
      await probe.command('DATA');
      probe.write(`Subject: ${word}\r\n\r\n${word}-BODY\r\n.\r\n`);
      const id = /queued as ([0-9A-Z]{17})$/.exec((await probe.read()).last)?.[1];
      if (id !== undefined) ids.push(id);
    }
    probe.close();
    expect(ids).toHaveLength(4);
    first.child.kill('SIGKILL');
    expect((await first.exited()).signal).toBe('SIGKILL');
    await flipByteOf(join(spool, 'journal', segmentName(1)), 'ROTTEN-BODY', 2);

    const restarted = await startServerProcess(path);
    try {
      const [kept1, rotten, kept3, kept4] = ids as [string, string, string, string];
      expect(await listed(restarted)).toEqual([kept1, kept3, kept4].sort());
      const raw = await fetch(`http://127.0.0.1:${String(restarted.ports.http)}/api/v1/message/${kept4}/raw`);
      expect(raw.status).toBe(200);
      expect(await raw.text()).toContain('FOURTH-BODY');
      const gone = await fetch(
        `http://127.0.0.1:${String(restarted.ports.http)}/api/v1/message/${rotten}/raw`,
      );
      expect(gone.status).toBe(404);
      expect(restarted.logs.find((entry) => Array.isArray(entry.lost))).toMatchObject({
        level: 50,
        lost: [rotten],
      });
      expect(restarted.logs.find((entry) => Array.isArray(entry.quarantined))).toMatchObject({
        quarantined: [join('quarantine', `journal-${segmentName(1)}`)],
      });
    } finally {
      restarted.child.kill('SIGTERM');
      await restarted.exited();
    }
  }, 60_000);
});
