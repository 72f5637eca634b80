import { mkdtemp, open as openFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal, segmentName } from '../../../src/spool/journal.js';
import { startJournalScrub } from '../../../src/spool/journal-scrubber.js';
import { newQueueId } from '../../../src/spool/queue-id.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailwharf-journal-scrubber-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const ids = Array.from({ length: 5 }, (_, i) => newQueueId(Date.UTC(2026, 0, 1, 0, 0, i)));

/** The first log line at `level` (pino's number), or a failure after `ms`. */
function lineAt(stream: PassThrough, level: number, ms: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(
      () => reject(new Error(`no log line at level ${String(level)} in ${String(ms)} ms`)),
      ms,
    );
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
        const line = JSON.parse(buffered.slice(0, end)) as Record<string, unknown>;
        buffered = buffered.slice(end + 1);
        if (line.level === level) {
          clearTimeout(deadline);
          resolve(line);
        }
      }
    });
  });
}

describe('startJournalScrub', () => {
  it('checks the sealed segments on its timer and logs damage it finds, then stops before the journal closes', async () => {
    const dir = join(root, 'journal');
    const { journal } = await Journal.open(dir, {
      writer: true,
      quarantineDir: join(root, 'quarantine'),
      segmentBytes: 300,
    });
    // Two 100-byte records to a segment: 1 and 2 sealed, the last in the head.
    for (const [i, id] of ids.entries())
      await journal.append(id, [Buffer.from(`record ${String(i)} `.padEnd(100, '.'))]);
    const damaged = journal.location(ids[3] ?? '');
    if (damaged?.segment !== 2) throw new Error('not laid out as expected');
    const handle = await openFile(journal.segmentPath(2), 'r+');
    await handle.write(Buffer.from('#'), 0, 1, damaged.offset + 10);
    await handle.close();

    const stream = new PassThrough();
    const logged = lineAt(stream, 50, 30_000);
    const scrubber = startJournalScrub({ dir: root, scrubJournal: () => journal.scrub() }, pino(stream), 1);
    const line = await logged;
    await scrubber.stop();
    await journal.close();

    expect(line.quarantined).toEqual([join('quarantine', `journal-${segmentName(2)}`)]);
    expect(line.lost).toEqual([ids[3]]);
    expect(await readdir(join(root, 'quarantine'))).toEqual([`journal-${segmentName(2)}`]);
    expect(journal.has(ids[3] ?? '')).toBe(false);
  });
});
