import { access, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { enqueueLocal } from '../../../src/delivery/enqueue.js';
import { Journal, RecordDamagedError, segmentName } from '../../../src/spool/journal.js';
import { newQueueId } from '../../../src/spool/queue-id.js';
import { Spool } from '../../../src/spool/spool.js';
import { flipByteOf } from '../../helpers/flip-byte.js';

/**
 * Bit rot in a segment after open (open checks every record it scans, but a sealed segment is
 * read by its index, and a running server never looks again): a read of the whole record
 * checks its CRC and refuses it, rather than handing damaged bytes to a receiver.
 */
const roots: string[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'mailwharf-journal-crc-'));
  roots.push(root);
  return root;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function spoolWithTwo(root: string) {
  const { spool } = await Spool.open(join(root, 'spool'));
  const queue = (body: string) =>
    enqueueLocal(spool, `Subject: crc\r\n\r\n${body}\r\n`, {
      mailFrom: 'sender@a.test',
      rcptTo: ['rcpt@b.test'],
      hostname: 'relay.test',
      listener: 'test',
    });
  const damaged = await queue('DAMAGED-BODY line one');
  const intact = await queue('INTACT-BODY line one');
  const segment = join(root, 'spool', 'journal', segmentName(1));
  return { spool, damaged, intact, segment };
}

describe('journal: whole-record reads check the CRC', () => {
  it('readBytes refuses a record with a flipped byte, quarantines its segment and drops it; its neighbour reads', async () => {
    const root = await tempRoot();
    const { spool, damaged, intact, segment } = await spoolWithTwo(root);
    try {
      await flipByteOf(segment, 'DAMAGED-BODY', 3);
      const error = await spool.readBytes(damaged).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RecordDamagedError);
      expect((error as RecordDamagedError).message).toContain(`queued message ${damaged.id} is damaged`);
      expect((error as RecordDamagedError).quarantined).toBe(join('quarantine', `journal-${segmentName(1)}`));
      // The copy holds the segment as found (the REMOVE record came after), damage and all.
      const copy = await readFile(join(root, 'spool', 'quarantine', `journal-${segmentName(1)}`));
      expect(copy.equals((await readFile(segment)).subarray(0, copy.length))).toBe(true);
      expect(copy.includes('DAMAGED-BODY')).toBe(false);
      // Gone from the queue and every view, as damage found at open is.
      expect(await spool.ids()).toEqual([intact.id]);
      expect(await spool.envelope(damaged.id)).toBeUndefined();
      expect((await spool.readBytes(intact)).toString('latin1')).toContain('INTACT-BODY line one');
    } finally {
      await spool.close();
    }
    // After a restart it stays gone, and its neighbour stays: the damaged head was left for a
    // new segment, so open scans it as sealed rather than cutting it at the damage.
    const { spool: again } = await Spool.open(join(root, 'spool'));
    try {
      expect(await again.ids()).toEqual([intact.id]);
      expect((await again.readBytes(intact)).toString('latin1')).toContain('INTACT-BODY line one');
    } finally {
      await again.close();
    }
  });

  it('a flip in the envelope trailer (after the message bytes) is caught too: the whole record is checked', async () => {
    const root = await tempRoot();
    const { spool, damaged, segment } = await spoolWithTwo(root);
    try {
      // The trailer names the sender; the first occurrence is the damaged message's.
      await flipByteOf(segment, 'sender@a.test');
      await expect(spool.readBytes(damaged)).rejects.toBeInstanceOf(RecordDamagedError);
    } finally {
      await spool.close();
    }
  });

  it('readMessage (delivery of a stream, the raw download, queue show) fails the stream and never ends it', async () => {
    const root = await tempRoot();
    const { spool, damaged, segment } = await spoolWithTwo(root);
    try {
      await flipByteOf(segment, 'DAMAGED-BODY', 5);
      const stream = spool.readMessage(damaged);
      let ended = false;
      stream.on('end', () => {
        ended = true;
      });
      const chunks: Buffer[] = [];
      const error = await (async () => {
        for await (const chunk of stream) chunks.push(chunk as Buffer);
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RecordDamagedError);
      expect(ended).toBe(false);
      // A small record is one read, checked before its first byte is passed on.
      expect(Buffer.concat(chunks).length).toBe(0);
    } finally {
      await spool.close();
    }
  });

  it('a reader beside the server (the queue CLI) refuses the record but copies and removes nothing', async () => {
    const root = await tempRoot();
    const { spool, damaged, intact, segment } = await spoolWithTwo(root);
    try {
      // Opened before the damage (open would leave a bad record out of its map).
      const reader = Spool.inspect(join(root, 'spool'));
      expect(await reader.count()).toBe(2);
      await flipByteOf(segment, 'DAMAGED-BODY', 3);
      const envelope = await reader.envelope(damaged.id);
      expect(envelope?.id).toBe(damaged.id);
      if (!envelope) return;
      const error = await reader.readBytes(envelope).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RecordDamagedError);
      expect((error as RecordDamagedError).quarantined).toBeUndefined();
      expect(await exists(join(root, 'spool', 'quarantine'))).toBe(false);
      expect((await spool.ids()).sort()).toEqual([damaged.id, intact.id].sort());
    } finally {
      await spool.close();
    }
  });
});

describe('journal: a streamed record larger than one read', () => {
  it('passes on the chunks before the damage is known, but holds back the last and fails instead of ending', async () => {
    const root = await tempRoot();
    const { journal } = await Journal.open(join(root, 'journal'), {
      writer: true,
      quarantineDir: join(root, 'quarantine'),
    });
    try {
      const id = newQueueId(Date.UTC(2026, 0, 1));
      const message = Buffer.alloc(200 * 1024, 'a');
      const trailer = Buffer.from('\r\nTRAILER-END', 'latin1');
      await journal.append(id, [message, trailer]);
      const location = journal.location(id);
      if (!location) throw new Error('not appended');
      // Whole, it streams exactly the message.
      const whole: Buffer[] = [];
      for await (const chunk of journal.stream(location, message.length)) whole.push(chunk);
      expect(Buffer.concat(whole).equals(message)).toBe(true);
      expect(whole.length).toBeGreaterThan(1);

      await flipByteOf(join(root, 'journal', segmentName(1)), 'TRAILER-END');
      const seen: Buffer[] = [];
      const error = await (async () => {
        for await (const chunk of journal.stream(location, message.length)) seen.push(chunk);
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RecordDamagedError);
      const passed = Buffer.concat(seen).length;
      expect(passed).toBeGreaterThan(0);
      expect(passed).toBeLessThan(message.length);
      expect(journal.has(id)).toBe(false);
    } finally {
      await journal.close();
    }
  });
});

describe('journal: a segment quarantined twice', () => {
  it('keeps the copy open made of a damaged head beside the one a later read makes, both with their bytes', async () => {
    const root = await tempRoot();
    const dir = join(root, 'journal');
    const quarantineDir = join(root, 'quarantine');
    const segment = join(dir, segmentName(1));
    const ids = [0, 1, 2].map((i) => newQueueId(Date.UTC(2026, 0, 1, 0, 0, i)));
    const [first, second, third] = ids as [string, string, string];
    const first1 = await Journal.open(dir, { writer: true, quarantineDir });
    for (const [i, id] of ids.entries())
      await first1.journal.append(id, [Buffer.from(`RECORD-${String(i)} body`, 'latin1')]);
    await first1.journal.close();

    // Damage mid-way in the head: open copies it and skips the bad record by its length; the
    // record after it (acknowledged) stays queued.
    await flipByteOf(segment, 'RECORD-1', 3);
    const found = await readFile(segment);
    const second1 = await Journal.open(dir, { writer: true, quarantineDir });
    const { journal } = second1;
    try {
      expect(second1.quarantined).toEqual([join('quarantine', `journal-${segmentName(1)}`)]);
      expect(journal.has(second)).toBe(false);
      expect(journal.has(third)).toBe(true);
      const atOpen = await readFile(join(quarantineDir, `journal-${segmentName(1)}`));
      expect(atOpen.equals(found)).toBe(true);
      expect(atOpen.includes('RECORD-2')).toBe(true);

      // More rot in the same segment, found by a read: a second copy, the first untouched.
      await flipByteOf(segment, 'RECORD-0', 3);
      const cut = await readFile(segment);
      const location = journal.location(first);
      if (!location) throw new Error(`${first} is not in the journal`);
      const error = await journal.readWhole(location).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RecordDamagedError);
      const later = `journal-${segmentName(1).replace('.seg', '.1.seg')}`;
      expect((error as RecordDamagedError).quarantined).toBe(join('quarantine', later));
      expect((await readdir(quarantineDir)).sort()).toEqual([`journal-${segmentName(1)}`, later].sort());
      expect((await readFile(join(quarantineDir, `journal-${segmentName(1)}`))).equals(found)).toBe(true);
      const secondCopy = await readFile(join(quarantineDir, later));
      expect(secondCopy.equals(cut.subarray(0, secondCopy.length))).toBe(true);
    } finally {
      await journal.close();
    }
  });
});

describe('journal: the same damage found again', () => {
  it('by a read with a stale location: no second copy, and the error names the first', async () => {
    const root = await tempRoot();
    const dir = join(root, 'journal');
    const quarantineDir = join(root, 'quarantine');
    const { journal } = await Journal.open(dir, { writer: true, quarantineDir });
    try {
      const [first, second] = [0, 1].map((i) => newQueueId(Date.UTC(2026, 0, 1, 0, 0, i))) as [
        string,
        string,
      ];
      await journal.append(first, [Buffer.from('RECORD-0 body', 'latin1')]);
      await journal.append(second, [Buffer.from('RECORD-1 body', 'latin1')]);
      const location = journal.location(first);
      if (!location) throw new Error('not appended');
      await flipByteOf(join(dir, segmentName(1)), 'RECORD-0', 3);
      const copy = join('quarantine', `journal-${segmentName(1)}`);
      // A view and the delivery worker each looked the message up before either read it.
      for (let read = 0; read < 3; read++) {
        const error = await journal.readWhole(location).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect((error as RecordDamagedError).quarantined).toBe(copy);
      }
      expect(await readdir(quarantineDir)).toEqual([`journal-${segmentName(1)}`]);
      // Damage found elsewhere in the segment later is new damage: a copy of its own.
      const other = journal.location(second);
      if (!other) throw new Error('not appended');
      await flipByteOf(join(dir, segmentName(1)), 'RECORD-1', 3);
      const error = await journal.readWhole(other).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as RecordDamagedError).quarantined).toBe(
        join('quarantine', `journal-${segmentName(1).replace('.seg', '.1.seg')}`),
      );
    } finally {
      await journal.close();
    }
  });
});
