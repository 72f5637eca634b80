import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { QueueEntry } from '../../src/cli/queue.js';
import { replyOutcome } from '../../src/delivery/outcome.js';
import { serializeState, type DeliveryState } from '../../src/delivery/state.js';
import type { Envelope } from '../../src/spool/envelope.js';
import { Journal } from '../../src/spool/journal.js';
import { encodeTrailer } from '../../src/spool/queue-file.js';
import { testEnvelope } from '../helpers/envelope.js';
import { cliWithFileLimit, writeProcessConfig } from '../helpers/process.js';

const message = Buffer.from('Received: from x\r\nSubject: journaled backlog\r\n\r\nbody\r\n');

function envelopeOf(id: string): Envelope {
  return testEnvelope(id, message.length, { rcptTo: [{ address: 'busy@b.test' }] });
}

const deferred: DeliveryState = {
  version: 2,
  attempts: 1,
  nextAttemptAt: '2026-11-30T11:00:00.000Z',
  held: false,
  outbox: [],
  commandSeq: 0,
  recipients: [
    {
      address: 'busy@b.test',
      status: 'deferred',
      outcome: replyOutcome('451 4.7.1 Greylisted', 'mx.b.test'),
      at: '2026-11-30T10:01:00.000Z',
    },
  ],
};

/**
 * The journal as a server leaves it (records appended with group commit, sealed segments with
 * their indexes), written in-process with small segments: more segments than the descriptor
 * limit below, so a reader that kept one descriptor per segment would run out.
 */
async function fillJournal(spool: string, count: number, segmentBytes: number): Promise<string[]> {
  const { journal } = await Journal.open(join(spool, 'journal'), {
    writer: true,
    quarantineDir: join(spool, 'quarantine'),
    segmentBytes,
  });
  const ids = Array.from({ length: count }, (_, i) => `0MWJB${String(i).padStart(12, '0')}`);
  try {
    // A group is never split across segments: 40 records (~16 KiB) to a group, each its own segment.
    for (let from = 0; from < count; from += 40) {
      const batch = ids.slice(from, from + 40);
      await Promise.all(batch.map((id) => journal.append(id, [message, encodeTrailer(envelopeOf(id))])));
    }
  } finally {
    await journal.close();
  }
  return ids;
}

describe('queue list on a journaled backlog', () => {
  const roots: string[] = [];
  afterAll(async () => {
    await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  });

  it('lists 20,000 journaled messages in 400+ segments under ulimit -n 256', async () => {
    const { root, path, spool } = await writeProcessConfig();
    roots.push(root);
    const ids = await fillJournal(spool, 20_000, 8 * 1024);
    const segments = (await readdir(join(spool, 'journal'))).filter((name) => name.endsWith('.seg'));
    expect(segments.length).toBeGreaterThan(400);
    await mkdir(join(spool, 'queue'), { recursive: true });
    for (const id of ids.filter((_, i) => i % 1000 === 0)) {
      await writeFile(join(spool, 'queue', `${id}.state.json`), serializeState(deferred));
    }

    const started = Date.now();
    const listed = await cliWithFileLimit(256, ['queue', 'list', '--json', '--config', path]);
    console.log(
      `queue list --json of 20,000 journaled messages in ${String(segments.length)} segments: ${String(Date.now() - started)} ms`,
    );
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    const entries = JSON.parse(listed.stdout) as QueueEntry[];
    expect(entries).toHaveLength(20_000);
    const byId = new Map(entries.map((e) => [e.id, e]));
    expect(byId.get(ids[0] ?? '')?.status).toBe('deferred');
    expect(byId.get(ids[0] ?? '')?.open).toEqual([
      { address: 'busy@b.test', status: 'deferred', reason: '451 4.7.1 Greylisted' },
    ]);
    expect(byId.get(ids[19_999] ?? '')?.status).toBe('queued');
    expect(byId.get(ids[19_999] ?? '')?.open.map((r) => r.status)).toEqual(['pending']);

    const table = await cliWithFileLimit(256, ['queue', 'list', '--config', path]);
    expect(table.stderr).toBe('');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^20000 message\(s\)$/m);
  }, 180_000);
});
