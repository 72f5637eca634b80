import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal, segmentName } from '../../../src/spool/journal.js';
import { segmentNumbers } from '../../../src/spool/journal-names.js';
import { encodeRecordHeader, RECORD_HEADER_BYTES, RecordType } from '../../../src/spool/journal-record.js';
import { newQueueId } from '../../../src/spool/queue-id.js';

let root: string;
let dir: string;
let quarantineDir: string;
const open: Journal[] = [];
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailwharf-journal-'));
  dir = join(root, 'journal');
  quarantineDir = join(root, 'quarantine');
});
afterEach(async () => {
  for (const journal of open.splice(0)) await journal.close();
  await rm(root, { recursive: true, force: true });
});

async function openJournal(options: { writer?: boolean; segmentBytes?: number } = {}) {
  const opened = await Journal.open(dir, { writer: options.writer ?? true, quarantineDir, ...options });
  open.push(opened.journal);
  return opened;
}

async function payloadOf(journal: Journal, id: string): Promise<string | undefined> {
  const location = journal.location(id);
  if (!location) return undefined;
  const buffer = Buffer.alloc(location.length);
  await journal.read(location, buffer, 0, location.length);
  return buffer.toString('latin1');
}

async function closeAll(): Promise<void> {
  for (const journal of open.splice(0)) await journal.close();
}

const ids = Array.from({ length: 40 }, (_, i) => newQueueId(Date.UTC(2026, 0, 1, 0, 0, i)));
const id = (i: number): string => ids[i] ?? '';

describe('Journal: records', () => {
  it('round trip: what is appended reads back byte for byte, and again after reopening', async () => {
    const { journal } = await openJournal();
    const bodies = ids.slice(0, 10).map((x, i) => `message ${x}\r\n${'é'.repeat(i * 50)}`);
    await Promise.all(bodies.map((body, i) => journal.append(id(i), [Buffer.from(body, 'latin1')])));
    for (const [i, body] of bodies.entries()) expect(await payloadOf(journal, id(i))).toBe(body);
    await closeAll();
    const { journal: again, quarantined } = await openJournal();
    expect(quarantined).toEqual([]);
    expect([...again.ids()].sort()).toEqual(ids.slice(0, 10).sort());
    for (const [i, body] of bodies.entries()) expect(await payloadOf(again, id(i))).toBe(body);
  });

  it('group commit: 30 appends made together share two fdatasyncs (the first alone, the rest in one)', async () => {
    const { journal } = await openJournal();
    await Promise.all(ids.slice(0, 30).map((x) => journal.append(x, [Buffer.from(x)])));
    expect(journal.fdatasyncs).toBe(2);
    expect(journal.size).toBe(30);
    // One after another, each waits for its own.
    await journal.append(id(30), [Buffer.from('a')]);
    await journal.append(id(31), [Buffer.from('b')]);
    expect(journal.fdatasyncs).toBe(4);
  });

  it('a REMOVE record survives reopening; a durable one costs an fdatasync, a plain one rides the next', async () => {
    const { journal } = await openJournal();
    await journal.append(id(0), [Buffer.from('zero')]);
    await journal.append(id(1), [Buffer.from('one')]);
    await journal.append(id(2), [Buffer.from('two')]);
    const before = journal.fdatasyncs;
    expect(await journal.remove(id(0), false)).toBe(true);
    expect(journal.fdatasyncs).toBe(before);
    expect(await journal.remove(id(1), true)).toBe(true);
    expect(journal.fdatasyncs).toBe(before + 1);
    expect(await journal.remove(id(1), true)).toBe(false);
    expect(journal.has(id(0))).toBe(false);
    await closeAll();
    const { journal: again } = await openJournal();
    expect([...again.ids()]).toEqual([id(2)]);
  });
});

describe('Journal: open after a crash', () => {
  it('a torn tail (a record whose fdatasync never returned) is cut off, and appends follow whole records', async () => {
    const { journal } = await openJournal();
    await journal.append(id(0), [Buffer.from('zero')]);
    await journal.append(id(1), [Buffer.from('one')]);
    await closeAll();
    const path = join(dir, segmentName(1));
    const whole = (await stat(path)).size;
    // A header and half its payload: the write the crash cut.
    const payload = Buffer.from('two, never acknowledged');
    await appendFile(
      path,
      Buffer.concat([encodeRecordHeader(RecordType.message, id(2), [payload]), payload.subarray(0, 5)]),
    );

    const { journal: again, quarantined } = await openJournal();
    expect(quarantined).toEqual([]);
    expect([...again.ids()].sort()).toEqual([id(0), id(1)]);
    expect((await stat(path)).size).toBe(whole);
    await again.append(id(3), [Buffer.from('three')]);
    await closeAll();
    const { journal: third } = await openJournal();
    expect([...third.ids()].sort()).toEqual([id(0), id(1), id(3)]);
    expect(await payloadOf(third, id(3))).toBe('three');
  });

  it('a bad record between whole ones in a sealed segment: copied to quarantine/, the rest kept', async () => {
    const { journal } = await openJournal({ segmentBytes: 200 });
    for (const i of [0, 1, 2]) await journal.append(id(i), [Buffer.from(`message number ${String(i)}`)]);
    const second = journal.location(id(1));
    // Does not fit: segment 1 is sealed and 2 begins.
    await journal.append(id(3), [Buffer.alloc(100, 0x61)]);
    expect(journal.location(id(3))?.segment).toBe(2);
    await closeAll();
    if (!second) throw new Error('not appended');
    // Without its index, the sealed segment is scanned at open.
    await rm(join(dir, segmentName(1).replace('.seg', '.idx')), { force: true });
    const path = join(dir, segmentName(1));
    const bytes = await readFile(path);
    bytes.writeUInt8((bytes.readUInt8(second.offset + 3) ^ 0x20) & 0xff, second.offset + 3); // a bit flipped inside the payload
    await writeFile(path, bytes);

    const { journal: again, quarantined } = await openJournal({ segmentBytes: 200 });
    expect(quarantined).toEqual([join('quarantine', `journal-${segmentName(1)}`)]);
    expect((await readFile(join(quarantineDir, `journal-${segmentName(1)}`))).equals(bytes)).toBe(true);
    expect([...again.ids()].sort()).toEqual([id(0), id(2), id(3)]);
    expect(await payloadOf(again, id(2))).toBe('message number 2');
    // Reported once: its index now says what reads whole, so the next open does not scan it.
    await closeAll();
    const { journal: third, quarantined: again2 } = await openJournal({ segmentBytes: 200 });
    expect(again2).toEqual([]);
    expect([...third.ids()].sort()).toEqual([id(0), id(2), id(3)]);
  });

  it('the last segment is cut at its first bad record: a record forged inside a torn body is never taken', async () => {
    const { journal } = await openJournal();
    for (const i of [0, 1]) await journal.append(id(i), [Buffer.from(`message number ${String(i)}`)]);
    await closeAll();
    const path = join(dir, segmentName(1));
    const whole = (await stat(path)).size;
    // A message whose body carries a whole record of its own (any recipients, any id), torn by
    // a crash in the middle of its group: its own CRC fails, the forged one inside checks out.
    const forgedPayload = Buffer.from('forged: relay me anywhere');
    const forged = Buffer.concat([
      encodeRecordHeader(RecordType.message, id(9), [forgedPayload]),
      forgedPayload,
    ]);
    const body = Buffer.concat([Buffer.from('Subject: hi\r\n\r\n'), forged, Buffer.alloc(64, 0x62)]);
    const outer = encodeRecordHeader(RecordType.message, id(2), [body]);
    await appendFile(path, Buffer.concat([outer, body.subarray(0, body.length - 10)]));
    const torn = await readFile(path);

    const { journal: again, quarantined } = await openJournal();
    expect(again.has(id(9))).toBe(false);
    expect([...again.ids()].sort()).toEqual([id(0), id(1)]);
    // Something whole followed the bad bytes: reported, and kept in quarantine/ before the cut.
    expect(quarantined).toEqual([join('quarantine', `journal-${segmentName(1)}`)]);
    expect((await readFile(join(quarantineDir, `journal-${segmentName(1)}`))).equals(torn)).toBe(true);
    expect((await stat(path)).size).toBe(whole);
  });
});

describe('Journal: segments', () => {
  const record = (i: number): Buffer => Buffer.from(`${String(i)}:${'x'.repeat(200)}`);

  it('rotates at the segment size; every segment is read back in order at open', async () => {
    const { journal } = await openJournal({ segmentBytes: 1000 });
    for (let i = 0; i < 12; i++) await journal.append(id(i), [record(i)]);
    const segments = (await readdir(dir)).filter((name) => name.endsWith('.seg')).sort();
    expect(segments.length).toBeGreaterThanOrEqual(3);
    for (const name of segments) expect((await stat(join(dir, name))).size).toBeLessThanOrEqual(1000);
    await closeAll();
    // Sealed segments have an index (open reads it instead of every payload); the head has none.
    const indexes = (await readdir(dir)).filter((name) => name.endsWith('.idx')).sort();
    expect(indexes).toEqual(segments.slice(0, -1).map((name) => name.replace('.seg', '.idx')));
    const { journal: again } = await openJournal({ segmentBytes: 1000 });
    expect(again.size).toBe(12);
    for (let i = 0; i < 12; i++) expect(await payloadOf(again, id(i))).toBe(record(i).toString('latin1'));
  });

  it('an index that is missing, torn or for another size is ignored: the segment is scanned', async () => {
    const { journal } = await openJournal({ segmentBytes: 1000 });
    for (let i = 0; i < 12; i++) await journal.append(id(i), [record(i)]);
    await journal.remove(id(0), true);
    await closeAll();
    await rm(join(dir, '0000000001.idx'));
    const torn = await readFile(join(dir, '0000000002.idx'));
    await writeFile(join(dir, '0000000002.idx'), torn.subarray(0, torn.length - 9));
    const { journal: again, quarantined } = await openJournal({ segmentBytes: 1000 });
    expect(quarantined).toEqual([]);
    expect([...again.ids()].sort()).toEqual(ids.slice(1, 12).sort());
    for (let i = 1; i < 12; i++) expect(await payloadOf(again, id(i))).toBe(record(i).toString('latin1'));
    // Written again from the scan, for the next open.
    expect(await readdir(dir)).toContain('0000000001.idx');
  });

  it('a segment goes once its messages are removed, but never before an older one', async () => {
    const { journal } = await openJournal({ segmentBytes: 1000 });
    // Four 232-byte records per segment: segments 1 (0-3), 2 (4-7), 3 (8-11).
    for (let i = 0; i < 12; i++) await journal.append(id(i), [record(i)]);
    for (const i of [4, 5, 6, 7]) await journal.remove(id(i), false);
    await journal.reclaim();
    // Segment 2 is dead, but segment 1 is not: 2's REMOVE records are kept with it.
    expect((await readdir(dir)).sort()).toContain(segmentName(2));
    for (const i of [0, 1, 2, 3]) await journal.remove(id(i), false);
    await journal.reclaim();
    const left = (await readdir(dir)).sort();
    expect(left).not.toContain(segmentName(1));
    expect(left).not.toContain(segmentName(2));
    await closeAll();
    const { journal: again } = await openJournal({ segmentBytes: 1000 });
    expect([...again.ids()].sort()).toEqual(ids.slice(8, 12).sort());
  });

  it('compaction: one message left in a mostly dead oldest segment is copied forward and the segment goes', async () => {
    const { journal } = await openJournal({ segmentBytes: 2000 });
    for (let i = 0; i < 24; i++) await journal.append(id(i), [record(i)]);
    for (const i of [0, 1, 3, 4, 5, 6, 7]) await journal.remove(id(i), false);
    // Eight records in segment 1, one left live: under a quarter of it.
    expect(journal.location(id(2))?.segment).toBe(1);
    expect(journal.location(id(8))?.segment).toBe(2);
    await journal.reclaim();
    expect(journal.location(id(2))?.segment).toBeGreaterThan(1);
    expect(await readdir(dir)).not.toContain(segmentName(1));
    await closeAll();
    const { journal: again } = await openJournal({ segmentBytes: 2000 });
    expect(again.size).toBe(17);
    expect(await payloadOf(again, id(2))).toBe(record(2).toString('latin1'));
  });
  it('a read with a location looked up before compaction moved the record reads the copy', async () => {
    const { journal } = await openJournal({ segmentBytes: 2000 });
    for (let i = 0; i < 24; i++) await journal.append(id(i), [record(i)]);
    for (const i of [0, 1, 3, 4, 5, 6, 7]) await journal.remove(id(i), false);
    const before = journal.location(id(2));
    expect(before?.segment).toBe(1);
    await journal.reclaim();
    expect(await readdir(dir)).not.toContain(segmentName(1));
    if (!before) throw new Error('no location');
    const buffer = Buffer.alloc(before.length);
    expect(await journal.read(before, buffer, 0, before.length)).toBe(before.length);
    expect(buffer.toString('latin1')).toBe(record(2).toString('latin1'));
  });
});

describe('Journal: space', () => {
  it('a mostly live oldest segment that keeps dead ones behind it is copied forward, and they all go', async () => {
    const segmentBytes = 200;
    const { journal } = await openJournal({ segmentBytes });
    const payload = (i: number) => Buffer.from(`record ${String(i)} `.padEnd(30, '.'));
    for (let i = 0; i < 15; i++) await journal.append(id(i), [payload(i)]);
    expect(journal.location(id(2))?.segment).toBe(1);
    expect(journal.location(id(14))?.segment).toBe(5);
    // A backlog of three in the oldest segment (all of it live); everything after it delivered.
    for (let i = 3; i < 15; i++) await journal.remove(id(i), false);
    await journal.reclaim();
    // How many segments are left is not promised: each removal starts a reclaim pass that runs
    // beside the next removals, so the three copies may share a write, or be written apart with
    // REMOVE records between them, over two segments (then three files are left). What reclaim
    // promises, however the writes were grouped: no segment is left in front of the oldest
    // that holds a live message, and the sealed ones left hold at most a segment's worth more
    // dead bytes than live ones (Journal.deadBytesPinned).
    const left = segmentNumbers(await readdir(dir)).sort((a, b) => a - b);
    const head = Math.max(...left);
    const backlog = [0, 1, 2].flatMap((i) => journal.location(id(i)) ?? []);
    expect(backlog).toHaveLength(3);
    // Segments 1 to 5 (where the messages were appended) are gone, and no dead one is in front.
    const oldestLive = Math.min(...backlog.map((location) => location.segment));
    expect(oldestLive).toBeGreaterThan(5);
    expect(left[0]).toBe(oldestLive);
    let sealedBytes = 0;
    for (const segment of left.filter((s) => s < head))
      sealedBytes += (await stat(join(dir, segmentName(segment)))).size;
    const sealedLiveBytes = backlog
      .filter((location) => location.segment < head)
      .reduce((sum, location) => sum + RECORD_HEADER_BYTES + location.length, 0);
    expect(sealedBytes - sealedLiveBytes).toBeLessThanOrEqual(sealedLiveBytes + segmentBytes);
    for (const i of [0, 1, 2]) expect(await payloadOf(journal, id(i))).toBe(payload(i).toString('latin1'));
    await closeAll();
    const { journal: again } = await openJournal({ segmentBytes });
    expect([...again.ids()].sort()).toEqual([id(0), id(1), id(2)]);
  });
});

describe('Journal: a reader beside the writer', () => {
  it('reads what is committed, tolerates a write under way and changes nothing', async () => {
    const { journal } = await openJournal();
    await journal.append(id(0), [Buffer.from('zero')]);
    await journal.append(id(1), [Buffer.from('one')]);
    const path = join(dir, segmentName(1));
    // The writer's next record, half on disk.
    const payload = Buffer.from('two, under way');
    await appendFile(
      path,
      Buffer.concat([encodeRecordHeader(RecordType.message, id(2), [payload]), payload.subarray(0, 3)]),
    );
    const size = (await stat(path)).size;

    const { journal: reader, quarantined } = await openJournal({ writer: false });
    expect(quarantined).toEqual([]);
    expect([...reader.ids()].sort()).toEqual([id(0), id(1)]);
    expect(await payloadOf(reader, id(1))).toBe('one');
    expect((await stat(path)).size).toBe(size);
    expect(await readdir(root)).toEqual(['journal']);
  });

  it('never writes: an append or a removal through a reader is refused and the segment is unchanged', async () => {
    const { journal } = await openJournal();
    await journal.append(id(0), [Buffer.from('zero')]);
    const path = join(dir, segmentName(1));
    const size = (await stat(path)).size;
    const { journal: reader } = await openJournal({ writer: false });
    await expect(reader.append(id(1), [Buffer.from('one')])).rejects.toThrow(/read-only/);
    expect(await reader.remove(id(0), true)).toBe(false);
    expect((await stat(path)).size).toBe(size);
    expect(await payloadOf(journal, id(0))).toBe('zero');
  });
});
