import { mkdtemp, open as openFile, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal, segmentName, type ScrubReport } from '../../../src/spool/journal.js';
import { encodeRecordHeader, RecordType } from '../../../src/spool/journal-record.js';
import { newQueueId } from '../../../src/spool/queue-id.js';

let root: string;
let dir: string;
let quarantineDir: string;
const open: Journal[] = [];
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailwharf-journal-scrub-'));
  dir = join(root, 'journal');
  quarantineDir = join(root, 'quarantine');
});
afterEach(async () => {
  await closeAll();
  await rm(root, { recursive: true, force: true });
});

/** 300 bytes: two 100-byte records (with their 32-byte headers) to a sealed segment. */
const SEGMENT_BYTES = 300;

async function openJournal(writer = true) {
  const opened = await Journal.open(dir, { writer, quarantineDir, segmentBytes: SEGMENT_BYTES });
  open.push(opened.journal);
  return opened;
}

async function closeAll(): Promise<void> {
  for (const journal of open.splice(0)) await journal.close();
}

const ids = Array.from({ length: 10 }, (_, i) => newQueueId(Date.UTC(2026, 0, 1, 0, 0, i)));
const id = (i: number): string => ids[i] ?? '';
const sized = (i: number): Buffer => Buffer.from(`record ${String(i)} `.padEnd(100, '.'), 'latin1');

/** Segments 1 and 2 sealed, two records each (ids 0-3); id 4 in the head, segment 3. */
async function fiveMessages(): Promise<Journal> {
  const { journal } = await openJournal();
  for (const i of [0, 1, 2, 3, 4]) await journal.append(id(i), [sized(i)]);
  expect(journal.location(id(3))?.segment).toBe(2);
  expect(journal.location(id(4))?.segment).toBe(3);
  return journal;
}

/** Flips one bit of a record's payload on the disk, as a failing disk would. */
async function damage(journal: Journal, messageId: string): Promise<void> {
  const location = journal.location(messageId);
  if (!location) throw new Error(`${messageId} is not in the journal`);
  const handle = await openFile(journal.segmentPath(location.segment), 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, location.offset + 10);
    byte[0] = (byte[0] ?? 0) ^ 0x20;
    await handle.write(byte, 0, 1, location.offset + 10);
  } finally {
    await handle.close();
  }
}

async function payloadOf(journal: Journal, messageId: string): Promise<string | undefined> {
  const location = journal.location(messageId);
  if (!location) return undefined;
  const buffer = Buffer.alloc(location.length);
  await journal.read(location, buffer, 0, location.length);
  return buffer.toString('latin1');
}

describe('Journal.scrub', () => {
  it('finds a damaged live record in a sealed segment: quarantined, reported, the message removed, the rest kept', async () => {
    const journal = await fiveMessages();
    await damage(journal, id(3));
    // Open alone never finds it: a sealed segment with an index is not read.
    const { journal: reader, quarantined: atOpen } = await openJournal(false);
    expect(atOpen).toEqual([]);
    expect(reader.has(id(3))).toBe(true);

    const reports: ScrubReport[] = [];
    for (let step = 0; step < 4 && !reports.some((r) => r.lost.length > 0); step++) {
      const report = await journal.scrub();
      if (report) reports.push(report);
    }
    expect(reports).toEqual([
      { segment: 1, lost: [] },
      { segment: 2, lost: [id(3)], quarantined: join('quarantine', `journal-${segmentName(2)}`) },
    ]);
    // The copy is the damaged segment, as it was found.
    expect(await readFile(join(quarantineDir, `journal-${segmentName(2)}`))).toEqual(
      await readFile(journal.segmentPath(2)),
    );
    expect(journal.has(id(3))).toBe(false);
    expect(await payloadOf(journal, id(2))).toBe(sized(2).toString('latin1'));
    expect([...journal.ids()].sort()).toEqual([id(0), id(1), id(2), id(4)].sort());

    // Reopened: the lost message stays gone, nothing is reported again, the rest read back.
    await closeAll();
    const { journal: again, quarantined } = await openJournal();
    expect(quarantined).toEqual([]);
    expect([...again.ids()].sort()).toEqual([id(0), id(1), id(2), id(4)].sort());
    for (const i of [0, 1, 2, 4]) expect(await payloadOf(again, id(i))).toBe(sized(i).toString('latin1'));
  });

  it('never takes a record forged inside a message body past the damage, at the scrub or the next open', async () => {
    // Message 0's body carries a whole record of its own (a CRC has no secret), 20 bytes in.
    const forged = Buffer.from(`forged ${id(7)}`, 'latin1');
    const inner = Buffer.concat([encodeRecordHeader(RecordType.message, id(7), [forged]), forged]);
    const body = Buffer.concat([Buffer.from('x'.repeat(20), 'latin1'), inner]);
    const padded = Buffer.concat([body, Buffer.alloc(100 - body.length, '.')]);
    const { journal } = await openJournal();
    await journal.append(id(0), [padded]);
    for (const i of [1, 2]) await journal.append(id(i), [sized(i)]);
    expect(journal.location(id(1))?.segment).toBe(1);
    expect(journal.location(id(2))?.segment).toBe(2);
    // Bytes before the forged record rot: the scan resyncs on the next magic, the forged one.
    await damage(journal, id(0));
    expect(await journal.scrub()).toEqual({
      segment: 1,
      lost: [id(0)],
      quarantined: join('quarantine', `journal-${segmentName(1)}`),
    });
    expect(journal.has(id(7))).toBe(false);
    await closeAll();
    const { journal: again } = await openJournal();
    expect([...again.ids()].sort()).toEqual([id(1), id(2)].sort());
    expect(again.has(id(7))).toBe(false);
  });

  it('damage a read finds in the head: the next open never takes a record forged past it', async () => {
    const forged = Buffer.from(`forged ${id(7)}`, 'latin1');
    const inner = Buffer.concat([encodeRecordHeader(RecordType.message, id(7), [forged]), forged]);
    const body = Buffer.concat([Buffer.from('x'.repeat(20), 'latin1'), inner]);
    const { journal } = await openJournal();
    // A live message before it keeps segment 1 from being reclaimed.
    await journal.append(id(2), [sized(2)]);
    await journal.append(id(0), [Buffer.concat([body, Buffer.alloc(100 - body.length, '.')])]);
    const location = journal.location(id(0));
    expect(location?.segment).toBe(1);
    await damage(journal, id(0));
    if (!location) throw new Error('no location');
    await expect(journal.readWhole(location)).rejects.toThrow(/damaged/);
    // The head was left for segment 2; segment 1 keeps its writer's record boundaries.
    await journal.append(id(1), [sized(1)]);
    expect(journal.location(id(1))?.segment).toBe(2);
    await closeAll();
    const { journal: again } = await openJournal();
    expect([...again.ids()].sort()).toEqual([id(1), id(2)].sort());
    expect(again.has(id(7))).toBe(false);
  });

  it("removes a quarantine copy a kill left staged, at a writer's open only", async () => {
    const { mkdir, writeFile } = await import('node:fs/promises');
    await mkdir(quarantineDir, { recursive: true });
    const staged = '.journal-0000000001.0a1b2c3d4e5f.tmp';
    await writeFile(join(quarantineDir, staged), 'partial copy');
    await writeFile(join(quarantineDir, 'journal-0000000001.seg'), 'a finished copy');
    await openJournal(false);
    expect(await readdir(quarantineDir)).toContain(staged);
    await openJournal(true);
    expect((await readdir(quarantineDir)).sort()).toEqual(['journal-0000000001.seg']);
  });

  it('goes round the sealed segments that hold live messages, one per call; none to check is undefined', async () => {
    const { journal: empty } = await openJournal();
    expect(await empty.scrub()).toBeUndefined();
    await empty.append(id(9), [sized(9)]);
    // The head alone: never checked (it is written to; open scans it whole).
    expect(await empty.scrub()).toBeUndefined();
    await closeAll();
    await rm(dir, { recursive: true });

    const journal = await fiveMessages();
    const segments: (number | undefined)[] = [];
    for (let step = 0; step < 4; step++) segments.push((await journal.scrub())?.segment);
    expect(segments).toEqual([1, 2, 1, 2]);
    // Segment 1 with no live message left (and gone, by reclaim): only 2 is checked.
    await journal.remove(id(0), true);
    await journal.remove(id(1), true);
    await journal.reclaim();
    expect(await journal.scrub()).toEqual({ segment: 2, lost: [] });
    expect(await journal.scrub()).toEqual({ segment: 2, lost: [] });
  });

  it('a damaged REMOVE in a sealed segment is written again in the head, so its message stays removed without the index', async () => {
    const { journal } = await openJournal();
    for (const i of [0, 1]) await journal.append(id(i), [sized(i)]);
    // 2 x 132 bytes, then the 32-byte REMOVE: segment 1 ends with it, and keeps a live message.
    await journal.remove(id(0), true);
    await journal.append(id(2), [sized(2)]);
    expect(journal.location(id(2))?.segment).toBe(2);
    const segment = journal.segmentPath(1);
    const bytes = await readFile(segment);
    const at = bytes.indexOf(encodeRecordHeader(RecordType.remove, id(0), []));
    expect(at).toBe(264);
    // Two bits of its CRC: past the one-bit repair.
    const handle = await openFile(segment, 'r+');
    await handle.write(Buffer.from([(bytes[at + 28] ?? 0) ^ 0x11]), 0, 1, at + 28);
    await handle.close();

    expect(await journal.scrub()).toEqual({
      segment: 1,
      lost: [],
      quarantined: join('quarantine', `journal-${segmentName(1)}`),
      rewritten: [id(0)],
    });
    // Once: the next round finds the same damage, and neither copies nor writes again.
    expect(await journal.scrub()).toEqual({ segment: 1, lost: [] });
    await closeAll();
    // The index (written without an fdatasync) lost in a crash: segment 1 is scanned, its
    // REMOVE does not read, and only the copy in the head keeps message 0 from coming back.
    await rm(join(dir, segmentName(1).replace('.seg', '.idx')));
    const { journal: again } = await openJournal();
    expect([...again.ids()].sort()).toEqual([id(1), id(2)].sort());
  });

  it('damage in a dead record loses nothing: no quarantine, nothing removed', async () => {
    const journal = await fiveMessages();
    const dead = journal.location(id(2));
    await damage(journal, id(2));
    await journal.remove(id(2), true);
    expect(dead?.segment).toBe(2);
    expect(await journal.scrub()).toEqual({ segment: 1, lost: [] });
    expect(await journal.scrub()).toEqual({ segment: 2, lost: [] });
    expect(await readdir(root)).not.toContain('quarantine');
    expect(await payloadOf(journal, id(3))).toBe(sized(3).toString('latin1'));
  });

  it('waits for compaction under way: a segment being copied forward and unlinked is never checked', async () => {
    const { journal } = await openJournal();
    // Segment 1: a small record and a large one; the head, segment 2, another small one.
    await journal.append(id(0), [Buffer.from('small')]);
    await journal.append(id(1), [Buffer.alloc(200, 'x')]);
    await journal.append(id(2), [Buffer.from('head')]);
    expect(journal.location(id(2))?.segment).toBe(2);
    // The large one gone, segment 1 is mostly dead: the removal's reclaim copies id(0) forward
    // and unlinks segment 1. A scrub asked for meanwhile runs after it, on what is left.
    await journal.remove(id(1), true);
    expect(await journal.scrub()).toBeUndefined();
    expect(journal.location(id(0))?.segment).toBe(2);
    expect(await readdir(dir)).not.toContain(segmentName(1));
  });
});
