import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal, RecordDamagedError, segmentName } from '../../../src/spool/journal.js';
import { newQueueId } from '../../../src/spool/queue-id.js';
import { FailingFiles } from '../../helpers/failing-files.js';

let root: string;
let dir: string;
let quarantineDir: string;
const open: Journal[] = [];
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailwharf-journal-failures-'));
  dir = join(root, 'journal');
  quarantineDir = join(root, 'quarantine');
});
afterEach(async () => {
  await closeAll();
  await rm(root, { recursive: true, force: true });
});

async function openJournal(options: { files?: FailingFiles; segmentBytes?: number; writer?: boolean } = {}) {
  const opened = await Journal.open(dir, {
    writer: options.writer ?? true,
    quarantineDir,
    ...(options.segmentBytes === undefined ? {} : { segmentBytes: options.segmentBytes }),
    ...(options.files ? { files: options.files } : {}),
  });
  open.push(opened.journal);
  return opened;
}

async function closeAll(): Promise<void> {
  for (const journal of open.splice(0)) await journal.close();
}

async function payloadOf(journal: Journal, id: string): Promise<string | undefined> {
  const location = journal.location(id);
  if (!location) return undefined;
  const buffer = Buffer.alloc(location.length);
  await journal.read(location, buffer, 0, location.length);
  return buffer.toString('latin1');
}

const ids = Array.from({ length: 100 }, (_, i) => newQueueId(Date.UTC(2026, 0, 1, 0, 0, i)));
const id = (i: number): string => ids[i] ?? '';
const text = (value: string): Buffer => Buffer.from(value, 'latin1');
/** 100 bytes: with its 32-byte header, two do not fit in a 200-byte segment. */
const sized = (i: number): Buffer => text(`record ${String(i)} `.padEnd(100, '.'));
const SEGMENT_1 = new RegExp(`${segmentName(1).replace('.', '\\.')}$`);
const SEGMENT_2 = new RegExp(`${segmentName(2).replace('.', '\\.')}$`);

describe('Journal under I/O failures: a failed fdatasync', () => {
  it('rejects its whole group (never listed), keeps earlier REMOVEs unsynced, and moves on to a new segment', async () => {
    const files = new FailingFiles();
    const { journal } = await openJournal({ files });
    await journal.append(id(0), [text('zero')]);
    await journal.append(id(1), [text('one')]);
    await journal.append(id(4), [text('four')]);

    files.fail('fdatasync', 'EIO');
    // Nothing in flight (a commit resolves just before its group ends), so the groups below are
    // formed as written.
    await journal.mark();
    // Three groups: a plain REMOVE that rides along (written, acknowledged, not yet synced); then,
    // while it is written, a message and another plain REMOVE queue up and go together; the
    // fdatasync their message asks for fails.
    const [riding, message, removal] = await Promise.allSettled([
      journal.remove(id(0), false),
      journal.append(id(2), [text('two')]),
      journal.remove(id(1), false),
    ]);
    expect(riding).toEqual({ status: 'fulfilled', value: true });
    expect(message).toMatchObject({ status: 'rejected', reason: { code: 'EIO' } });
    expect(removal).toMatchObject({ status: 'rejected', reason: { code: 'EIO' } });
    // Never acknowledged, so never listed; the removal that failed leaves its message in place.
    expect(journal.has(id(2))).toBe(false);
    expect(journal.has(id(1))).toBe(true);
    expect(await payloadOf(journal, id(1))).toBe('one');

    const from = files.log.length;
    await journal.append(id(3), [text('three')]);
    // The old segment is not trusted after a failed sync: what rode along in it (the REMOVE of
    // id 0) is synced again before it is left, and the next record starts segment 2, whose
    // name is made durable before it is acknowledged.
    expect(files.calls(root, from)).toEqual([
      `fdatasync journal/${segmentName(1)}`,
      `close journal/${segmentName(1)}`,
      `open journal/${segmentName(2)}`,
      'fsync journal',
      `writev journal/${segmentName(2)}`,
      `fdatasync journal/${segmentName(2)}`,
    ]);
    expect(journal.location(id(3))?.segment).toBe(2);

    await closeAll();
    const { journal: again, quarantined } = await openJournal();
    expect(quarantined).toEqual([]);
    expect([...again.ids()].sort()).toEqual([id(1), id(3), id(4)]);
    expect(await payloadOf(again, id(3))).toBe('three');
    expect(await payloadOf(again, id(1))).toBe('one');
  });
});

describe('Journal under I/O failures: an old head whose fdatasync keeps failing', () => {
  it('carries its unsynced REMOVEs into the next segment rather than failing every later group', async () => {
    const files = new FailingFiles();
    const { journal } = await openJournal({ files });
    for (const i of [0, 1, 2]) await journal.append(id(i), [text(`message ${String(i)}`)]);
    await journal.mark();
    const synced = (await stat(join(dir, segmentName(1)))).size;
    // Segment 1's fdatasync fails from now on, for good (a sick disk area).
    files.fail('fdatasync', 'EIO', { path: SEGMENT_1, times: 1000 });
    // Two plain REMOVEs ride along (written, acknowledged, not synced); the append after them
    // asks for the sync that fails.
    expect(await journal.remove(id(0), false)).toBe(true);
    expect(await journal.remove(id(1), false)).toBe(true);
    await expect(journal.append(id(3), [text('message 3')])).rejects.toMatchObject({ code: 'EIO' });

    // Later groups go to segment 2, and succeed: the REMOVEs left unsynced in segment 1 are
    // written again there, first, in the same durable group.
    const from = files.log.length;
    await journal.append(id(4), [text('message 4')]);
    await journal.append(id(5), [text('message 5')]);
    expect(journal.location(id(4))?.segment).toBe(2);
    expect(files.calls(root, from).slice(0, 3)).toEqual([
      `fdatasync journal/${segmentName(1)} FAILED`,
      `close journal/${segmentName(1)}`,
      `open journal/${segmentName(2)}`,
    ]);
    await closeAll();

    // The kernel dropped segment 1's unsynced pages (the REMOVEs' first copies), and its index
    // with them: its second copies keep both messages removed.
    const { truncate } = await import('node:fs/promises');
    await truncate(join(dir, segmentName(1)), synced);
    await rm(join(dir, segmentName(1).replace('.seg', '.idx')), { force: true });
    const { journal: again } = await openJournal();
    expect([...again.ids()].sort()).toEqual([id(2), id(4), id(5)]);
  });

  it('carried REMOVEs with no later group to take them are written at close', async () => {
    const files = new FailingFiles();
    const { journal } = await openJournal({ files });
    for (const i of [0, 1]) await journal.append(id(i), [text(`message ${String(i)}`)]);
    await journal.mark();
    const synced = (await stat(join(dir, segmentName(1)))).size;
    files.fail('fdatasync', 'EIO', { path: SEGMENT_1, times: 1000 });
    expect(await journal.remove(id(0), false)).toBe(true);
    await expect(journal.append(id(2), [text('message 2')])).rejects.toMatchObject({ code: 'EIO' });
    // Segment 1 is left and its REMOVE carried, but segment 2 cannot be opened: the group that
    // was to take it fails, and no other comes before the close.
    files.fail('open', 'EIO', { path: SEGMENT_2 });
    await expect(journal.append(id(3), [text('message 3')])).rejects.toMatchObject({ code: 'EIO' });
    await closeAll();
    await (await import('node:fs/promises')).truncate(join(dir, segmentName(1)), synced);
    await rm(join(dir, segmentName(1).replace('.seg', '.idx')), { force: true });
    const { journal: again } = await openJournal();
    expect([...again.ids()]).toEqual([id(1)]);
  });
});

describe('Journal under I/O failures: rotation', () => {
  it('a failed open of the new segment: the next group makes its name durable before it is acknowledged', async () => {
    const files = new FailingFiles();
    const { journal } = await openJournal({ files, segmentBytes: 200 });
    await journal.append(id(0), [sized(0)]);
    files.fail('open', 'EIO', { path: SEGMENT_2 });
    await expect(journal.append(id(1), [sized(1)])).rejects.toMatchObject({ code: 'EIO' });
    expect(journal.has(id(1))).toBe(false);

    const from = files.log.length;
    await journal.append(id(2), [sized(2)]);
    expect(files.calls(root, from)).toEqual([
      `open journal/${segmentName(2)}`,
      'fsync journal',
      `writev journal/${segmentName(2)}`,
      `fdatasync journal/${segmentName(2)}`,
    ]);
    expect(journal.location(id(2))?.segment).toBe(2);
    await closeAll();
    const { journal: again } = await openJournal({ segmentBytes: 200 });
    expect([...again.ids()].sort()).toEqual([id(0), id(2)]);
  });

  it('a failed directory fsync: no group in the new segment is acknowledged until one succeeds', async () => {
    const files = new FailingFiles();
    const { journal } = await openJournal({ files, segmentBytes: 200 });
    await journal.append(id(0), [sized(0)]);
    files.fail('fsync', 'EIO', { path: /journal$/, times: 2 });
    await expect(journal.append(id(1), [sized(1)])).rejects.toMatchObject({ code: 'EIO' });
    // The file is open and empty; its name may still not be durable: tried again, and failing again.
    const second = files.log.length;
    await expect(journal.append(id(2), [text('two')])).rejects.toMatchObject({ code: 'EIO' });
    expect(files.calls(root, second)).toEqual([
      'openDirectory journal',
      'fsync journal FAILED',
      'close journal',
    ]);
    expect(journal.has(id(2))).toBe(false);

    const third = files.log.length;
    await journal.append(id(3), [text('three')]);
    expect(files.calls(root, third)).toEqual([
      'openDirectory journal',
      'fsync journal',
      `writev journal/${segmentName(2)}`,
      `fdatasync journal/${segmentName(2)}`,
    ]);
    // Once durable, the name is not synced again for every group.
    const fourth = files.log.length;
    await journal.append(id(4), [text('four')]);
    expect(files.calls(root, fourth)).toEqual([
      `writev journal/${segmentName(2)}`,
      `fdatasync journal/${segmentName(2)}`,
    ]);
    await closeAll();
    const { journal: again } = await openJournal({ segmentBytes: 200 });
    expect([...again.ids()].sort()).toEqual([id(0), id(3), id(4)]);
  });
});

describe('Journal under I/O failures: a REMOVE that is not written', () => {
  it('puts the location back: still readable, still listed after reopening, and a retry removes it', async () => {
    const files = new FailingFiles();
    const { journal } = await openJournal({ files });
    await journal.append(id(0), [text('zero')]);
    await journal.append(id(1), [text('one')]);
    files.fail('writev', 'EIO');
    await expect(journal.remove(id(0), true)).rejects.toMatchObject({ code: 'EIO' });
    expect(journal.has(id(0))).toBe(true);
    expect([...journal.ids()].sort()).toEqual([id(0), id(1)]);
    expect(await payloadOf(journal, id(0))).toBe('zero');
    await closeAll();

    const { journal: again } = await openJournal({ files });
    expect([...again.ids()].sort()).toEqual([id(0), id(1)]);
    expect(await payloadOf(again, id(0))).toBe('zero');
    expect(await again.remove(id(0), true)).toBe(true);
    await closeAll();
    const { journal: third } = await openJournal();
    expect([...third.ids()]).toEqual([id(1)]);
  });
});

describe('Journal under I/O failures: a full disk', () => {
  it('ENOSPC after a short write: the commit fails with ENOSPC, the partial record is cut off, later ones follow', async () => {
    const files = new FailingFiles();
    const { journal } = await openJournal({ files });
    await journal.append(id(0), [text('zero')]);
    const path = join(dir, segmentName(1));
    const whole = (await stat(path)).size;
    files.fail('writev', 'ENOSPC', { room: 20 });
    await expect(journal.append(id(1), [text('one, on a full disk')])).rejects.toMatchObject({
      code: 'ENOSPC',
    });
    expect(journal.has(id(1))).toBe(false);
    expect((await stat(path)).size).toBe(whole);
    await journal.append(id(2), [text('two, after room was made')]);
    expect(journal.location(id(2))?.segment).toBe(1);
    await closeAll();
    const { journal: again, quarantined } = await openJournal();
    expect(quarantined).toEqual([]);
    expect([...again.ids()].sort()).toEqual([id(0), id(2)]);
    expect(await payloadOf(again, id(2))).toBe('two, after room was made');
  });

  it('when the partial record cannot be cut off either, the next record starts a new segment', async () => {
    const files = new FailingFiles();
    const { journal } = await openJournal({ files });
    await journal.append(id(0), [text('zero')]);
    files.fail('writev', 'ENOSPC', { room: 20 });
    files.fail('ftruncate', 'EIO');
    await expect(journal.append(id(1), [text('one, on a full disk')])).rejects.toMatchObject({
      code: 'ENOSPC',
    });
    await journal.append(id(2), [text('two')]);
    expect(journal.location(id(2))?.segment).toBe(2);
    await closeAll();
    // The torn bytes stay in segment 1, now sealed: kept for an operator, never taken as a record.
    const { journal: again, quarantined } = await openJournal();
    expect(quarantined).toEqual([join('quarantine', `journal-${segmentName(1)}`)]);
    expect([...again.ids()].sort()).toEqual([id(0), id(2)]);
  });
});

describe('Journal at open: hygiene', () => {
  it('an index left half written by a crash (*.idx.tmp) is removed; a reader leaves it alone', async () => {
    const { journal } = await openJournal({ segmentBytes: 200 });
    for (const i of [0, 1, 2]) await journal.append(id(i), [sized(i)]);
    await closeAll();
    const staged = `${segmentName(1).replace('.seg', '.idx')}.tmp`;
    await writeFile(join(dir, staged), 'half an index');
    await openJournal({ writer: false, segmentBytes: 200 });
    expect(await readdir(dir)).toContain(staged);
    await closeAll();
    const { journal: again } = await openJournal({ segmentBytes: 200 });
    expect(await readdir(dir)).not.toContain(staged);
    expect([...again.ids()].sort()).toEqual([id(0), id(1), id(2)]);
  });

  it('creating journal/ fsyncs the directory it was made in', async () => {
    const files = new FailingFiles();
    await openJournal({ files });
    expect(files.calls(root)).toEqual(['openDirectory .', 'fsync .', 'close .']);
    // Already there: nothing to sync.
    await closeAll();
    const again = new FailingFiles();
    await openJournal({ files: again });
    expect(again.calls(root)).toEqual([]);
  });

  it('quarantine/, made when a damaged segment is found, is synced into the spool, and so is the copy in it', async () => {
    const { journal } = await openJournal({ segmentBytes: 200 });
    for (const i of [0, 1, 2]) await journal.append(id(i), [sized(i)]);
    const second = journal.location(id(1));
    await closeAll();
    if (!second) throw new Error('not appended');
    await rm(join(dir, segmentName(2).replace('.seg', '.idx')), { force: true });
    const path = join(dir, segmentName(2));
    const bytes = await readFile(path);
    bytes.writeUInt8(bytes.readUInt8(second.offset + 3) ^ 0x20, second.offset + 3);
    await writeFile(path, bytes);

    const files = new FailingFiles();
    const { quarantined } = await openJournal({ files, segmentBytes: 200 });
    expect(quarantined).toEqual([join('quarantine', `journal-${segmentName(2)}`)]);
    // The copy is staged, synced, linked to its name, and the name synced, all through the seam.
    expect(files.calls(root).map((call) => call.replace(/\.[0-9a-f]+\.tmp$/, '.RANDOM.tmp'))).toEqual([
      'openDirectory .',
      'fsync .',
      'close .',
      `copyFile quarantine/.journal-${segmentName(2)}.RANDOM.tmp`,
      `open quarantine/.journal-${segmentName(2)}.RANDOM.tmp`,
      `fdatasync quarantine/.journal-${segmentName(2)}.RANDOM.tmp`,
      `close quarantine/.journal-${segmentName(2)}.RANDOM.tmp`,
      `link quarantine/journal-${segmentName(2)}`,
      'openDirectory quarantine',
      'fsync quarantine',
      'close quarantine',
      `unlink quarantine/.journal-${segmentName(2)}.RANDOM.tmp`,
    ]);
  });

  it('a quarantine copy whose sync fails: the message a read found damaged stays queued, no copy is left', async () => {
    const files = new FailingFiles();
    const { journal } = await openJournal({ files });
    for (const i of [0, 1]) await journal.append(id(i), [sized(i)]);
    const first = journal.location(id(0));
    if (!first) throw new Error('not appended');
    const bytes = await readFile(join(dir, segmentName(1)));
    bytes.writeUInt8(bytes.readUInt8(first.offset + 3) ^ 0x20, first.offset + 3);
    await writeFile(join(dir, segmentName(1)), bytes);
    files.fail('fdatasync', 'EIO', { path: /\.tmp$/ });
    const error = await journal.readWhole(first).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RecordDamagedError);
    expect((error as RecordDamagedError).quarantined).toBeUndefined();
    // Not copied, so not dropped: its bytes stay where they are for an operator.
    expect(journal.has(id(0))).toBe(true);
    expect(await readdir(quarantineDir)).toEqual([]);
    // The next read that finds it tries again, and copies.
    const again = await journal.readWhole(first).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((again as RecordDamagedError).quarantined).toBe(join('quarantine', `journal-${segmentName(1)}`));
    expect(journal.has(id(0))).toBe(false);
  });
});

describe('Journal: reader descriptors', () => {
  /** What this process's descriptors point at, under the journal directory. */
  async function held(): Promise<string[]> {
    const targets: string[] = [];
    for (const fd of await readdir('/proc/self/fd')) {
      const target = await readlink(join('/proc/self/fd', fd)).catch(() => '');
      if (target.startsWith(`${dir}/`)) targets.push(target.slice(dir.length + 1));
    }
    return targets;
  }
  const heldDeleted = async (name: string): Promise<number> =>
    (await held()).filter((target) => target === `${name} (deleted)`).length;

  it('at most 64 are kept open, however many segments are read', async () => {
    const { journal } = await openJournal({ segmentBytes: 200 });
    for (let i = 0; i < 100; i++) await journal.append(id(i), [sized(i)]);
    await closeAll();
    // 100 segments of one record each, each read (twice) by a second journal.
    const { journal: again } = await openJournal({ segmentBytes: 200 });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 100; i++) expect(await payloadOf(again, id(i))).toBe(sized(i).toString('latin1'));
    }
    // Exactly 64: a read that pushed one out waited for its close.
    expect((await held()).filter((target) => target.endsWith('.seg')).length).toBe(64);
    await again.close();
    expect(await held()).toEqual([]);
  });

  it('the least recently used goes: a segment read between every other one stays open', async () => {
    const { journal } = await openJournal({ segmentBytes: 200 });
    for (let i = 0; i < 100; i++) await journal.append(id(i), [sized(i)]);
    await closeAll();
    const { journal: again } = await openJournal({ segmentBytes: 200 });
    const hot = again.location(id(0));
    if (!hot) throw new Error('not appended');
    expect(await payloadOf(again, id(0))).toBe(sized(0).toString('latin1'));
    // Gone from the directory: only the descriptor already open can still read it.
    await rm(again.segmentPath(hot.segment));
    for (let i = 1; i < 100; i++) {
      expect(await payloadOf(again, id(i))).toBe(sized(i).toString('latin1'));
      expect(await payloadOf(again, id(0))).toBe(sized(0).toString('latin1'));
    }
  });

  it('a read after close (a stopped server spool, looked at) reads, and keeps no descriptor', async () => {
    const { journal } = await openJournal({ segmentBytes: 200 });
    for (const i of [0, 1, 2]) await journal.append(id(i), [sized(i)]);
    const location = journal.location(id(0));
    if (!location) throw new Error('not appended');
    await journal.close();
    const buffer = Buffer.alloc(location.length);
    await journal.read(location, buffer, 0, location.length);
    expect(buffer.toString('latin1')).toBe(sized(0).toString('latin1'));
    expect(await held()).toEqual([]);
  });

  it('a read that opens the segment while reclaim unlinks it does not keep the descriptor', async () => {
    const files = new FailingFiles();
    const { journal } = await openJournal({ files, segmentBytes: 200 });
    for (const i of [0, 1, 2]) await journal.append(id(i), [sized(i)]);
    const stale = journal.location(id(0));
    if (!stale) throw new Error('not appended');
    expect(stale.segment).toBe(1);
    // A reader that looked id 0 up before its removal reads it just as the segment goes.
    let read = '';
    files.before('unlink', /\.idx$/, async () => {
      const buffer = Buffer.alloc(stale.length);
      await journal.read(stale, buffer, 0, stale.length);
      read = buffer.toString('latin1');
    });
    await journal.remove(id(0), true);
    await journal.reclaim();
    expect(read).toBe(sized(0).toString('latin1'));
    expect(await readdir(dir)).not.toContain(segmentName(1));
    expect(await heldDeleted(segmentName(1))).toBe(0);
  });
});

describe('Journal: the test double itself', () => {
  it('fails only the planned calls, and the journal then works on the real disk', async () => {
    const files = new FailingFiles();
    await mkdir(dir, { recursive: true });
    const { journal } = await openJournal({ files });
    files.fail('fdatasync', 'EIO', { after: 1, path: SEGMENT_1 });
    await journal.append(id(0), [text('zero')]);
    await expect(journal.append(id(1), [text('one')])).rejects.toMatchObject({ code: 'EIO', errno: -5 });
    await journal.append(id(2), [text('two')]);
    expect(files.log.filter((c) => c.failed).map((c) => c.call)).toEqual(['fdatasync']);
  });
});
