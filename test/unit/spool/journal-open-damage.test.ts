import { mkdtemp, open as openFile, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal, segmentName } from '../../../src/spool/journal.js';
import { encodeRecordHeader, RecordType, repairRemoveRecord } from '../../../src/spool/journal-record.js';
import { scanSegment } from '../../../src/spool/journal-scan.js';
import { newQueueId } from '../../../src/spool/queue-id.js';
import { Spool } from '../../../src/spool/spool.js';
import { testEnvelope } from '../../helpers/envelope.js';

/**
 * Damage in the head segment found by open (rot before a crash, not yet found by a read or the
 * scrub): the head used to be cut at its first bad record, dropping every acknowledged record
 * after it from the queue. These cases all fail on that code.
 */
let root: string;
let dir: string;
let quarantineDir: string;
const open: Journal[] = [];
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailwharf-journal-open-damage-'));
  dir = join(root, 'journal');
  quarantineDir = join(root, 'quarantine');
});
afterEach(async () => {
  await closeAll();
  await rm(root, { recursive: true, force: true });
});

async function openJournal() {
  const opened = await Journal.open(dir, { writer: true, quarantineDir });
  open.push(opened.journal);
  return opened;
}

async function closeAll(): Promise<void> {
  for (const journal of open.splice(0)) await journal.close();
}

const ids = Array.from({ length: 10 }, (_, i) => newQueueId(Date.UTC(2026, 0, 1, 0, 0, i)));
const id = (i: number): string => ids[i] ?? '';
const body = (i: number): Buffer => Buffer.from(`message number ${String(i)} `.padEnd(60, '.'), 'latin1');
const head = (): string => join(dir, segmentName(1));

/** Flips bits (`mask`) of the byte at `position` of the head segment, as a failing disk would. */
async function flip(position: number, mask = 0x20): Promise<void> {
  const handle = await openFile(head(), 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, position);
    byte[0] = (byte[0] ?? 0) ^ mask;
    await handle.write(byte, 0, 1, position);
  } finally {
    await handle.close();
  }
}

async function payloadOf(journal: Journal, messageId: string): Promise<string | undefined> {
  const location = journal.location(messageId);
  return location && (await journal.readWhole(location)).toString('latin1');
}

/** Messages 0-3 in the head, message 1 removed (its REMOVE record between 2 and 3); where that REMOVE starts. */
async function fourWithARemove(): Promise<number> {
  const { journal } = await openJournal();
  for (const i of [0, 1, 2]) await journal.append(id(i), [body(i)]);
  await journal.remove(id(1), true);
  await journal.append(id(3), [body(3)]);
  await closeAll();
  const bytes = await readFile(head());
  const at = bytes.indexOf(encodeRecordHeader(RecordType.remove, id(1), []));
  expect(at).toBeGreaterThan(0);
  return at;
}

describe('Journal.open: damage in the middle of the head segment', () => {
  it('skips the bad record by its length: the whole records after it stay queued, a copy goes aside', async () => {
    const { journal } = await openJournal();
    for (const i of [0, 1, 2, 3]) await journal.append(id(i), [body(i)]);
    const second = journal.location(id(1));
    await closeAll();
    if (!second) throw new Error('not appended');
    await flip(second.offset + 5);
    const damaged = await readFile(head());

    const { journal: again, quarantined, lost } = await openJournal();
    expect([...again.ids()].sort()).toEqual([id(0), id(2), id(3)]);
    expect(await payloadOf(again, id(3))).toBe(body(3).toString('latin1'));
    // Handled as a read that finds the damage: a copy for an operator, the message named as lost.
    const copy = join('quarantine', `journal-${segmentName(1)}`);
    expect(quarantined).toEqual([copy]);
    expect(lost).toEqual([id(1)]);
    expect((await readFile(join(root, copy))).equals(damaged)).toBe(true);
    // Nothing is cut, and later writes go to a new segment: the damaged one is sealed with the
    // writer's own record boundaries as its index, so the next open neither cuts nor reports it.
    expect((await stat(head())).size).toBe(damaged.length);
    await again.append(id(4), [body(4)]);
    expect(again.location(id(4))?.segment).toBe(2);
    await closeAll();
    const { journal: third, quarantined: reported } = await openJournal();
    expect(reported).toEqual([]);
    expect([...third.ids()].sort()).toEqual([id(0), id(2), id(3), id(4)]);
    expect(await readdir(quarantineDir)).toEqual([`journal-${segmentName(1)}`]);
  });

  it('a bad record whose message was removed after it is not reported lost (it was done with)', async () => {
    const { journal } = await openJournal();
    for (const i of [0, 1, 2]) await journal.append(id(i), [body(i)]);
    const second = journal.location(id(1));
    await journal.remove(id(1), true);
    await closeAll();
    if (!second) throw new Error('not appended');
    await flip(second.offset + 5);
    const { journal: again, lost, quarantined } = await openJournal();
    expect([...again.ids()].sort()).toEqual([id(0), id(2)]);
    expect(lost).toEqual([]);
    expect(quarantined).toHaveLength(1);
  });

  it('a bad record whose length leads nowhere whole is still a torn tail: cut, as before', async () => {
    const { journal } = await openJournal();
    for (const i of [0, 1]) await journal.append(id(i), [body(i)]);
    const second = journal.location(id(1));
    await closeAll();
    if (!second) throw new Error('not appended');
    const whole = (await stat(head())).size;
    // The crash tore the last record: its payload is short of its length.
    const handle = await openFile(head(), 'r+');
    await handle.truncate(whole - 7);
    await handle.close();
    const { journal: again, quarantined, lost } = await openJournal();
    expect([...again.ids()]).toEqual([id(0)]);
    expect(quarantined).toEqual([]);
    expect(lost).toEqual([]);
    expect((await stat(head())).size).toBe(second.offset - 32);
  });
});

describe('Journal.open: a damaged REMOVE record', () => {
  it('with one flipped bit is put right (the CRC locates it): its message stays removed', async () => {
    const at = await fourWithARemove();
    // A bit of the id's last character: the one most alike between neighbouring ids.
    await flip(at + 5 + 16, 0x01);
    const { journal, quarantined, resurrected, unnamedRemoves } = await openJournal();
    expect([...journal.ids()].sort()).toEqual([id(0), id(2), id(3)]);
    expect(resurrected).toEqual([]);
    expect(unnamedRemoves).toBe(0);
    expect(quarantined).toEqual([join('quarantine', `journal-${segmentName(1)}`)]);
    // The repaired REMOVE is in the index the damaged head got: it holds after the next open too.
    await journal.append(id(4), [body(4)]);
    await closeAll();
    const { journal: again } = await openJournal();
    expect([...again.ids()].sort()).toEqual([id(0), id(2), id(3), id(4)]);
  });

  it('past repair: its message comes back, named in the report, and nothing after it is lost', async () => {
    const at = await fourWithARemove();
    // Two bits of its CRC: no one bit puts it right; the id its header claims is still legible.
    await flip(at + 28, 0x11);
    const { journal, resurrected, lost } = await openJournal();
    expect([...journal.ids()].sort()).toEqual([id(0), id(1), id(2), id(3)]);
    expect(resurrected).toEqual([id(1)]);
    expect(lost).toEqual([]);
  });

  it('past repair and its id illegible: counted, so the report says a message may be back', async () => {
    const at = await fourWithARemove();
    await flip(at + 1, 0x40); // the magic
    await flip(at + 28, 0x11);
    const { journal, resurrected, unnamedRemoves } = await openJournal();
    expect([...journal.ids()].sort()).toEqual([id(0), id(1), id(2), id(3)]);
    expect(resurrected).toEqual([]);
    expect(unnamedRemoves).toBe(1);
  });
});

describe('repairRemoveRecord', () => {
  const record = encodeRecordHeader(RecordType.remove, id(1), []);
  const flipped = (bits: readonly number[]): Buffer => {
    const bytes = Buffer.from(record);
    for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) ^ (1 << (bit & 7));
    return bytes;
  };

  it('puts right every one of the 256 single flipped bits, to the id written', () => {
    for (let bit = 0; bit < 256; bit++)
      expect(repairRemoveRecord(flipped([bit]))?.id, `bit ${String(bit)}`).toBe(id(1));
  });

  it('never takes two flipped bits for one (a Hamming distance of 6): nothing is put right', () => {
    for (let first = 0; first < 256; first += 7) {
      for (let second = first + 1; second < Math.min(256, first + 24); second++) {
        expect(
          repairRemoveRecord(flipped([first, second])),
          `bits ${String(first)}, ${String(second)}`,
        ).toBeUndefined();
      }
    }
  });

  it('leaves a MESSAGE header alone: only a REMOVE (no payload) is repaired', () => {
    const message = encodeRecordHeader(RecordType.message, id(1), [Buffer.from('x')]);
    message[30] = (message[30] ?? 0) ^ 1;
    expect(repairRemoveRecord(message)).toBeUndefined();
  });
});

describe('Spool.open: a message lost to damage open found', () => {
  it('is told to each damaged-message listener as it subscribes, as a read finding it would tell', async () => {
    const spoolDir = join(root, 'spool');
    const { spool } = await Spool.open(spoolDir);
    const stored: string[] = [];
    for (const i of [0, 1, 2]) {
      const writer = await spool.begin(id(i));
      writer.stream.write(`Subject: ${String(i)}\r\n\r\nBODY-${String(i)}\r\n`);
      await writer.commit(testEnvelope(id(i), 0));
      stored.push(id(i));
    }
    await spool.close();
    const segment = join(spoolDir, 'journal', segmentName(1));
    const bytes = await readFile(segment);
    const handle = await openFile(segment, 'r+');
    await handle.write(Buffer.from('b'), 0, 1, bytes.indexOf('BODY-1'));
    await handle.close();

    const { spool: again, quarantined } = await Spool.open(spoolDir);
    try {
      expect(quarantined).toEqual([join('quarantine', `journal-${segmentName(1)}`)]);
      expect((await again.ids()).sort()).toEqual([id(0), id(2)]);
      const told: string[] = [];
      again.onDamagedRemoved((damaged) => told.push(damaged));
      expect(told).toEqual([id(1)]);
    } finally {
      await again.close();
    }
  });
});

describe('scanSegment: a bad record whose length field is the damaged part', () => {
  it('never skips the whole records between it and where the flipped length points', async () => {
    // R (70 bytes: bit 5 of its length is 0), then the REMOVE of message 2, then message 3: a
    // flip of bit 5 adds exactly 32, the REMOVE's size, and points at message 3's header.
    const { journal } = await openJournal();
    await journal.append(id(0), [body(0)]);
    await journal.append(id(2), [body(2)]);
    await journal.append(id(1), [Buffer.from('r'.repeat(70), 'latin1')]);
    const damaged = journal.location(id(1));
    await journal.remove(id(2), true);
    await journal.append(id(3), [body(3)]);
    await closeAll();
    if (!damaged) throw new Error('not appended');
    await flip(damaged.offset - 32 + 24, 0x20);
    const handle = await openFile(head(), 'r');
    try {
      const { size } = await handle.stat();
      // Searched on, as in a sealed segment: the REMOVE and message 3 are both found.
      const searched = await scanSegment(handle, size, true);
      expect(searched.records.map((r) => [r.type, r.id])).toEqual([
        [RecordType.message, id(0)],
        [RecordType.message, id(2)],
        [RecordType.remove, id(2)],
        [RecordType.message, id(3)],
      ]);
      expect(searched.damages.map((d) => d.at)).toEqual([damaged.offset - 32]);
      // Not searched on, as in the head: cut at the bad record, never the REMOVE skipped alone.
      const cut = await scanSegment(handle, size, false);
      expect(cut.records.map((r) => r.id)).toEqual([id(0), id(2)]);
    } finally {
      await handle.close();
    }
  });
});
