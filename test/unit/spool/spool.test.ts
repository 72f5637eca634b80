import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SMALL_MESSAGE_BYTES } from '../../../src/spool/spool-file.js';
import { encodeTrailer } from '../../../src/spool/queue-file.js';
import { DirectorySync } from '../../../src/spool/dir-sync.js';
import type { Envelope } from '../../../src/spool/envelope.js';
import { newQueueId } from '../../../src/spool/queue-id.js';
import { LOCK_STALE_MS, lockSpool, SpoolLockedError } from '../../../src/spool/lock.js';
import { Journal } from '../../../src/spool/journal.js';
import { Spool } from '../../../src/spool/spool.js';
import { testEnvelope } from '../../helpers/envelope.js';
import { FailingFiles } from '../../helpers/failing-files.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailwharf-spool-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function envelopeFor(id: string, size = 0): Envelope {
  return testEnvelope(id, size, { receivedAt: '2026-11-22T22:30:12.000Z' });
}

async function ls(sub: string): Promise<string[]> {
  return (await readdir(join(dir, sub))).sort();
}

/** Creates files (paths relative to the spool): a queue/ID.eml is a whole queue file, the rest junk. */
async function plant(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    const whole = /^queue\/([0-9A-Z]{17})\.eml$/.exec(path);
    const content = whole?.[1]
      ? Buffer.concat([Buffer.from('x'), encodeTrailer(envelopeFor(whole[1], 1))])
      : path.endsWith('.json')
        ? '{}'
        : 'x';
    await writeFile(join(dir, path), content);
  }
}

async function store(spool: Spool, id: string, message: string): Promise<Envelope> {
  const writer = await spool.begin(id);
  writer.stream.write(message);
  const envelope = envelopeFor(id, Buffer.byteLength(message));
  await writer.commit(envelope);
  return envelope;
}

const ID = newQueueId(Date.UTC(2026, 10, 22));
const OUR_LOCK = `${String(process.pid)} ${hostname()}\n`;

describe('Spool: receiving a message', () => {
  it('begin -> write -> commit of a small message appends one journal record: the message, then its envelope', async () => {
    const { spool } = await Spool.open(dir);
    const committed: Envelope[] = [];
    spool.onCommitted((envelope) => {
      committed.push(envelope);
    });

    const writer = await spool.begin(ID);
    writer.stream.write('Received: x\r\n');
    writer.stream.write('Subject: hi\r\n\r\nbody\r\n');
    // A small message waits in memory: no file until it commits.
    expect(await ls('tmp')).toEqual([]);
    expect(await ls('queue')).toEqual([]);

    const envelope = envelopeFor(ID, 34);
    expect(await writer.commit(envelope)).toEqual(envelope);

    expect(await ls('queue')).toEqual([]);
    expect(await ls('tmp')).toEqual([]);
    expect(await ls('journal')).toEqual(['0000000001.seg']);
    // After the record's 32-byte header, the bytes a queue file would hold.
    const file = (await readFile(join(dir, 'journal', '0000000001.seg'))).subarray(32).toString('utf8');
    expect(file.slice(0, 34)).toBe('Received: x\r\nSubject: hi\r\n\r\nbody\r\n');
    expect(file.slice(34)).toBe(
      `${JSON.stringify(envelope)}\nmailwharf-envelope ${JSON.stringify(envelope).length.toString(16).padStart(8, '0')}\n`,
    );
    expect(await spool.envelope(ID)).toEqual(envelope);
    expect(await spool.count()).toBe(1);
    expect(committed).toEqual([envelope]);
  });

  it('a message larger than SMALL_MESSAGE_BYTES streams to tmp/ before it commits', async () => {
    const { spool } = await Spool.open(dir);
    const writer = await spool.begin(ID);
    const body = Buffer.alloc(SMALL_MESSAGE_BYTES * 3 + 7, 'a');
    for (let offset = 0; offset < body.length; offset += 16 * 1024) {
      if (!writer.stream.write(body.subarray(offset, offset + 16 * 1024))) await once(writer.stream, 'drain');
    }
    await vi.waitFor(async () => expect(await ls('tmp')).toEqual([`${ID}.eml`]));
    // The envelope's size is what was written, whatever the caller counted.
    const envelope = await writer.commit(envelopeFor(ID, 1));
    expect(envelope.size).toBe(body.length);
    expect(await spool.envelope(ID)).toEqual(envelope);
    const chunks: Buffer[] = [];
    for await (const chunk of spool.readMessage(envelope)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
    expect(await ls('tmp')).toEqual([]);
  });

  it('readMessage streams back the stored bytes', async () => {
    const { spool } = await Spool.open(dir);
    await store(spool, ID, 'Subject: x\r\n\r\n\u00e9\r\n');
    const chunks: Buffer[] = [];
    const envelope = await spool.envelope(ID);
    if (!envelope) throw new Error('not stored');
    for await (const chunk of spool.readMessage(envelope)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString('utf8')).toBe('Subject: x\r\n\r\n\u00e9\r\n');
  });

  it('abort leaves nothing behind and tells no listener', async () => {
    const { spool } = await Spool.open(dir);
    const listener = vi.fn();
    spool.onCommitted(listener);
    const writer = await spool.begin(ID);
    writer.stream.write('half a message');
    await writer.abort();
    await writer.abort();
    expect(await ls('tmp')).toEqual([]);
    expect(await ls('queue')).toEqual([]);
    expect(listener).not.toHaveBeenCalled();
  });

  it('abort after commit keeps the committed message', async () => {
    const { spool } = await Spool.open(dir);
    const writer = await spool.begin(ID);
    writer.stream.write('x');
    const envelope = await writer.commit(envelopeFor(ID, 1));
    await writer.abort();
    expect(await spool.envelope(ID)).toEqual(envelope);
  });

  it('abort while the open and first write of a large message are under way: no file left, no descriptor leaked', async () => {
    const { spool } = await Spool.open(dir);
    const before = (await readdir('/proc/self/fd')).length;
    for (let i = 1; i <= 20; i++) {
      const writer = await spool.begin(newQueueId(i));
      writer.stream.write(Buffer.alloc(SMALL_MESSAGE_BYTES + 1));
      await writer.abort(); // at once: the open and the write have only just started
    }
    expect(await ls('tmp')).toEqual([]);
    expect((await readdir('/proc/self/fd')).length).toBe(before);
  });

  it('abort of a large message removes its partial file from tmp/', async () => {
    const { spool } = await Spool.open(dir);
    const writer = await spool.begin(ID);
    writer.stream.write(Buffer.alloc(SMALL_MESSAGE_BYTES + 1));
    await vi.waitFor(async () => expect(await ls('tmp')).toEqual([`${ID}.eml`]));
    await writer.abort();
    expect(await ls('tmp')).toEqual([]);
    expect(await ls('queue')).toEqual([]);
  });

  it('a small message whose journal sync fails: not acknowledged, not listed, no listener told', async () => {
    const [earlier, later] = [newQueueId(1), newQueueId(3)];
    const { spool } = await Spool.open(dir);
    await store(spool, earlier, 'an earlier message, so the segment exists');
    const listener = vi.fn();
    spool.onCommitted(listener);
    const failure = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const syncs = vi
      .spyOn(Journal.prototype as unknown as HeadSyncSeam, 'syncHead')
      .mockRejectedValueOnce(failure);
    try {
      await expect(store(spool, ID, 'x')).rejects.toBe(failure);
    } finally {
      syncs.mockRestore();
    }
    expect(await spool.envelope(ID)).toBeUndefined();
    expect(await spool.ids()).toEqual([earlier]);
    expect(await ls('tmp')).toEqual([]);
    expect(listener).not.toHaveBeenCalled();
    // The failed write was cut off the segment: the next commit follows whole records.
    await store(spool, later, 'y');
    await spool.close();
    const reopened = await Spool.open(dir);
    expect(reopened.quarantined).toEqual([]);
    expect((await reopened.spool.ids()).sort()).toEqual([earlier, later]);
  });

  it('a failed fsync of queue/ after a large message’s rename: not acknowledged, and the message taken back', async () => {
    const { spool } = await Spool.open(dir);
    const listener = vi.fn();
    spool.onCommitted(listener);
    const failure = Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    const fsyncs = vi
      .spyOn(DirectorySync.prototype as unknown as FsyncSeam, 'fsyncOnce')
      .mockRejectedValueOnce(failure);
    try {
      await expect(store(spool, ID, 'x'.repeat(SMALL_MESSAGE_BYTES + 1))).rejects.toBe(failure);
    } finally {
      fsyncs.mockRestore();
    }
    expect(await ls('queue')).toEqual([]);
    expect(await ls('tmp')).toEqual([]);
    expect(listener).not.toHaveBeenCalled();
  });

  it('an unsubscribed listener hears nothing more', async () => {
    const { spool } = await Spool.open(dir);
    const listener = vi.fn();
    const unsubscribe = spool.onCommitted(listener);
    await store(spool, newQueueId(1), 'a');
    unsubscribe();
    await store(spool, newQueueId(2), 'b');
    expect(listener).toHaveBeenCalledTimes(1);
  });
});

describe('Spool.open: recovery after a crash', () => {
  const A = newQueueId(Date.UTC(2026, 0, 1));
  const B = newQueueId(Date.UTC(2026, 0, 2));

  it.each([
    // files present before open, files left after, why
    [[], [], 'an empty spool'],
    [[`tmp/${A}.eml`], [], 'a message still arriving was never acknowledged'],
    [[`tmp/${A}.state.0badcafe.json`], [], 'nor a half-written delivery state'],
    [
      [`queue/${A}.eml`],
      [`queue/${A}.eml`],
      'a committed message is kept (only a whole one is ever renamed in)',
    ],
    [
      [`queue/${A}.eml`, `queue/${A}.state.json`],
      [`queue/${A}.eml`, `queue/${A}.state.json`],
      'a delivery state beside its message is kept',
    ],
    [[`queue/${A}.state.json`], [], 'a state whose message is gone goes with it'],
    [
      [`queue/${A}.eml`, `tmp/${B}.eml`],
      [`queue/${A}.eml`],
      'a crash before the rename loses only the unacknowledged message',
    ],
    [['queue/README'], ['queue/README'], 'a file without an extension is not the spool’s'],
  ] as const)('%j -> %j (%s)', async (before: readonly string[], after: readonly string[], _why) => {
    await plant(before);
    const { spool, removed } = await Spool.open(dir);
    const left = [
      ...(await ls('tmp')).map((n) => `tmp/${n}`),
      ...(await ls('queue')).map((n) => `queue/${n}`),
    ];
    expect(left).toEqual(after);
    const gone = before.filter((path) => !after.includes(path));
    expect([...removed].sort()).toEqual([...gone].sort());
    expect(await spool.count()).toBe(after.filter((path) => /^queue\/[0-9A-Z]{17}\.eml$/.test(path)).length);
  });

  it('a queue file that is not a whole message is moved to quarantine/, with its state, never deleted', async () => {
    await plant([`queue/${B}.eml`]);
    await writeFile(join(dir, 'queue', `${A}.eml`), 'no trailer: not written by this spool');
    await writeFile(join(dir, 'queue', `${A}.state.json`), '{"attempts":1}');
    const { spool, quarantined } = await Spool.open(dir);
    expect(quarantined.sort()).toEqual([`queue/${A}.eml`, `queue/${A}.state.json`]);
    expect(await ls('quarantine')).toEqual([`${A}.eml`, `${A}.state.json`]);
    expect(await readFile(join(dir, 'quarantine', `${A}.eml`), 'utf8')).toBe(
      'no trailer: not written by this spool',
    );
    expect((await spool.list()).map((e) => e.id)).toEqual([B]);
    expect(await spool.count()).toBe(1);
  });

  it('the move into quarantine/ is made durable: quarantine/ fsynced after the renames, then queue/', async () => {
    await mkdir(join(dir, 'quarantine'), { recursive: true });
    await plant([`queue/${B}.eml`]);
    await writeFile(join(dir, 'queue', `${A}.eml`), 'no trailer: not written by this spool');
    await writeFile(join(dir, 'queue', `${A}.state.json`), '{"attempts":1}');
    const files = new FailingFiles();
    const { spool } = await Spool.open(dir, { files });
    await spool.close();
    const calls = files.calls(dir);
    const renames = calls.filter((call) => call.startsWith('rename'));
    expect(renames.sort()).toEqual([`rename queue/${A}.eml`, `rename queue/${A}.state.json`]);
    const last = Math.max(...renames.map((call) => calls.indexOf(call)));
    // The new names durable first: a crash between the two syncs leaves a file in both places, never in neither.
    expect(calls.slice(last + 1).filter((call) => call.startsWith('fsync'))).toEqual([
      'fsync quarantine',
      'fsync queue',
    ]);
  });

  it('a message of the earlier two-file layout (ID.eml + ID.json) becomes one file, state kept', async () => {
    const envelope = envelopeFor(A, 12);
    await plant([`queue/${A}.state.json`]);
    await writeFile(join(dir, 'queue', `${A}.eml`), 'Subject: x\r\n');
    await writeFile(join(dir, 'queue', `${A}.json`), JSON.stringify(envelope));
    const { spool, migrated, removed, quarantined } = await Spool.open(dir);
    expect({ migrated, removed, quarantined }).toEqual({ migrated: [A], removed: [], quarantined: [] });
    expect(await ls('queue')).toEqual([`${A}.eml`, `${A}.state.json`]);
    expect(await spool.list()).toEqual([envelope]);
    expect((await spool.messageBytes(A))?.toString()).toBe('Subject: x\r\n');
    expect(await ls('tmp')).toEqual([]);
  });

  it('a migration cut short after the rename: the left-over .json goes, the message stays', async () => {
    await plant([`queue/${A}.eml`, `queue/${A}.json`]);
    const { spool, migrated, quarantined } = await Spool.open(dir);
    expect({ migrated, quarantined }).toEqual({ migrated: [], quarantined: [] });
    expect(await ls('queue')).toEqual([`${A}.eml`]);
    expect((await spool.list()).map((e) => e.id)).toEqual([A]);
  });

  it('an old pair whose envelope does not match the message is quarantined, not migrated', async () => {
    await mkdir(join(dir, 'queue'), { recursive: true });
    await writeFile(join(dir, 'queue', `${A}.eml`), 'Subject: x\r\n');
    await writeFile(join(dir, 'queue', `${A}.json`), JSON.stringify(envelopeFor(A, 999)));
    const { migrated, quarantined } = await Spool.open(dir);
    expect(migrated).toEqual([]);
    expect(quarantined.sort()).toEqual([`queue/${A}.eml`, `queue/${A}.json`]);
  });

  it('creates tmp/ and queue/ in a new directory', async () => {
    const { removed } = await Spool.open(join(dir, 'new', 'spool'));
    expect(removed).toEqual([]);
    expect((await readdir(join(dir, 'new', 'spool'))).sort()).toEqual(['journal', 'lock', 'queue', 'tmp']);
  });

  it('a committed message survives reopening', async () => {
    const first = await Spool.open(dir);
    const envelope = await store(first.spool, ID, 'x');
    await first.spool.close();
    const second = await Spool.open(dir);
    expect(second.removed).toEqual([]);
    expect(await second.spool.list()).toEqual([envelope]);
  });

  it('Spool.inspect removes nothing (it runs beside a live server)', async () => {
    await plant([`tmp/${A}.eml`, `queue/${B}.state.json`]);
    const spool = Spool.inspect(dir);
    expect(await spool.list()).toEqual([]);
    expect(await ls('tmp')).toEqual([`${A}.eml`]);
    expect(await ls('queue')).toEqual([`${B}.state.json`]);
  });
});

describe('Spool.list', () => {
  it('lists committed messages oldest first and ignores junk', async () => {
    const { spool } = await Spool.open(dir);
    // Stored out of time order: the order comes from the ids, not from the disk.
    const june = await store(spool, newQueueId(Date.UTC(2026, 5, 1)), 'x');
    const january = await store(spool, newQueueId(Date.UTC(2026, 0, 1)), 'x');
    const march = await store(spool, newQueueId(Date.UTC(2026, 2, 1)), 'x');
    await spool.writeState(january.id, '{"attempts":1}');
    await writeFile(join(dir, 'queue', 'README'), 'junk');
    await writeFile(join(dir, 'queue', 'notes.json'), '{"version":1}');
    await writeFile(join(dir, 'queue', `${newQueueId(5)}.json`.toLowerCase()), '{}');
    // Files named like messages that are not queue files: no footer, a footer over bad JSON,
    // a size that disagrees with the bytes, and another message's envelope.
    const corrupt = (month: number): string =>
      join(dir, 'queue', `${newQueueId(Date.UTC(2026, month, 2))}.eml`);
    await writeFile(corrupt(1), 'x');
    await writeFile(corrupt(2), 'x{"version":1\nmailwharf-envelope 0000000d\n');
    await writeFile(
      corrupt(3),
      `xx${JSON.stringify(june)}\nmailwharf-envelope ${JSON.stringify(june).length.toString(16).padStart(8, '0')}\n`,
    );
    await writeFile(
      corrupt(4),
      `x${JSON.stringify(june)}\nmailwharf-envelope ${JSON.stringify(june).length.toString(16).padStart(8, '0')}\n`,
    );
    // Right id and size, but the length not as eight hex digits (space-padded): not our footer.
    const loose = newQueueId(Date.UTC(2026, 5, 2));
    const looseJson = JSON.stringify(envelopeFor(loose, 1));
    await writeFile(
      join(dir, 'queue', `${loose}.eml`),
      `x${looseJson}\nmailwharf-envelope ${looseJson.length.toString(16).padStart(8, ' ')}\n`,
    );

    expect(await spool.list()).toEqual([january, march, june]);
  });

  it('is empty for an empty spool', async () => {
    const { spool } = await Spool.open(dir);
    expect(await spool.list()).toEqual([]);
    expect(await spool.count()).toBe(0);
  });
});

describe('Spool: removal and delivery state', () => {
  it('remove deletes the message and its state', async () => {
    const { spool } = await Spool.open(dir);
    await store(spool, ID, 'x');
    await spool.writeState(ID, '{"attempts":2}');
    expect(await spool.readState(ID)).toBe('{"attempts":2}');
    await spool.remove(ID, { durable: true });
    expect(await ls('queue')).toEqual([]);
    expect(await spool.readState(ID)).toBeUndefined();
    expect(await spool.envelope(ID)).toBeUndefined();
  });

  it('writeState replaces the state and leaves nothing in tmp/', async () => {
    const { spool } = await Spool.open(dir);
    await store(spool, ID, 'x');
    await spool.writeState(ID, 'one');
    await spool.writeState(ID, 'two');
    expect(await spool.readState(ID)).toBe('two');
    expect(await ls('tmp')).toEqual([]);
  });

  it.each([
    // id, why
    ['../x', 'path traversal out of queue/'],
    ['../tmp/x', 'path traversal into tmp/'],
    ['x', 'not a queue id'],
  ])('%j is refused by every id-taking method (%s)', async (id, _why) => {
    const { spool } = await Spool.open(dir);
    await plant(['x.json', 'x.eml', 'x.state.json', 'tmp/x.json']);
    await spool.remove(id, { durable: true });
    expect(await spool.envelope(id)).toBeUndefined();
    expect(await spool.readState(id)).toBeUndefined();
    expect((await readdir(dir)).sort()).toEqual([
      'journal',
      'lock',
      'queue',
      'tmp',
      'x.eml',
      'x.json',
      'x.state.json',
    ]);
    expect(await ls('tmp')).toEqual(['x.json']);
  });
});

/** The private fsync of a DirectorySync, to count and pace its runs. */
interface HeadSyncSeam {
  syncHead(fd: number): Promise<void>;
}

interface FsyncSeam {
  fsyncOnce(): Promise<void>;
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

function deferred(): Deferred {
  let resolve = (): void => undefined;
  let reject = (_error: Error): void => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run (no timers, no waiting on time). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('DirectorySync: group commit', () => {
  it('many concurrent calls share fsyncs: one under way, one for everyone who came after', async () => {
    const sync = new DirectorySync(dir);
    const fsyncs = vi.spyOn(sync as unknown as FsyncSeam, 'fsyncOnce');
    await Promise.all(Array.from({ length: 50 }, () => sync.sync()));
    expect(fsyncs).toHaveBeenCalledTimes(2);
  });

  it('calls that do not overlap get an fsync each', async () => {
    const sync = new DirectorySync(dir);
    const fsyncs = vi.spyOn(sync as unknown as FsyncSeam, 'fsyncOnce');
    for (let i = 0; i < 3; i++) await sync.sync();
    expect(fsyncs).toHaveBeenCalledTimes(3);
  });

  it('every caller resolves only after an fsync that started after its call', async () => {
    const sync = new DirectorySync(dir);
    let clock = 0;
    const runs: { started: number; ended?: number; done: Deferred }[] = [];
    vi.spyOn(sync as unknown as FsyncSeam, 'fsyncOnce').mockImplementation(() => {
      const run: { started: number; ended?: number; done: Deferred } = { started: ++clock, done: deferred() };
      runs.push(run);
      return run.done.promise.then(() => {
        run.ended = ++clock;
      });
    });
    const callers = new Map<string, { called: number; resolved?: number }>();
    const call = (name: string): Promise<void> => {
      const caller: { called: number; resolved?: number } = { called: ++clock };
      callers.set(name, caller);
      return sync.sync().then(() => {
        caller.resolved = ++clock;
      });
    };
    const resolved = (): string[] => [...callers].filter(([, c]) => c.resolved !== undefined).map(([n]) => n);

    const all = [call('A')];
    await settle();
    all.push(call('B'), call('C'));
    await settle();
    expect(runs).toHaveLength(1);
    expect(resolved()).toEqual([]);

    runs[0]?.done.resolve();
    await settle();
    // A's fsync is done; B and C arrived during it, so they wait for the next one.
    expect(resolved()).toEqual(['A']);
    expect(runs).toHaveLength(2);

    all.push(call('D'));
    await settle();
    runs[1]?.done.resolve();
    await settle();
    expect(resolved()).toEqual(['A', 'B', 'C']);
    expect(runs).toHaveLength(3);

    runs[2]?.done.resolve();
    await Promise.all(all);
    expect(resolved()).toEqual(['A', 'B', 'C', 'D']);
    expect(runs).toHaveLength(3);

    for (const [name, caller] of callers) {
      const covering = runs.find(
        (run) =>
          run.started > caller.called &&
          run.ended !== undefined &&
          caller.resolved !== undefined &&
          run.ended < caller.resolved,
      );
      expect({ name, covered: covering !== undefined }).toEqual({ name, covered: true });
    }
  });

  it('a failed fsync fails its callers; those waiting behind it get the next one', async () => {
    const sync = new DirectorySync(dir);
    const runs: Deferred[] = [];
    vi.spyOn(sync as unknown as FsyncSeam, 'fsyncOnce').mockImplementation(() => {
      const run = deferred();
      runs.push(run);
      return run.promise;
    });
    const first = sync.sync();
    const second = sync.sync();
    runs[0]?.reject(new Error('EIO'));
    await expect(first).rejects.toThrow('EIO');
    await settle();
    expect(runs).toHaveLength(2);
    runs[1]?.resolve();
    await expect(second).resolves.toBeUndefined();
  });

  it('really fsyncs: a missing directory is an error, not a silent success', async () => {
    const sync = new DirectorySync(join(dir, 'missing'));
    await expect(sync.sync()).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('Spool lock: one server per spool', () => {
  it('a second open in this process is refused until the first closes', async () => {
    const { spool } = await Spool.open(dir);
    expect(await readFile(join(dir, 'lock'), 'utf8')).toBe(OUR_LOCK);
    await expect(Spool.open(dir)).rejects.toThrow(new SpoolLockedError(dir, process.pid));
    await spool.close();
    expect(await readdir(dir)).not.toContain('lock');
    const again = await Spool.open(dir);
    await again.spool.close();
  });

  it('two opens started together in one process: exactly one gets the spool', async () => {
    const results = await Promise.allSettled([Spool.open(dir), Spool.open(dir)]);
    const opened = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.spool] : []));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(opened).toHaveLength(1);
    expect(refused).toEqual([new SpoolLockedError(dir, process.pid)]);
    await opened[0]?.close();
  });

  it('a lock held by a live process is refused and nothing is recovered', async () => {
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await plant([`tmp/${ID}.eml`]);
      await writeFile(join(dir, 'lock'), `${String(holder.pid)}\n`);
      await expect(Spool.open(dir)).rejects.toThrow(
        `spool ${dir} is in use by process ${String(holder.pid)} (remove ${join(dir, 'lock')} only if no mailwharf runs there)`,
      );
      // The other server's message still arriving is left alone.
      expect(await ls('tmp')).toEqual([`${ID}.eml`]);
    } finally {
      holder.kill();
    }
  });

  it.each([
    ['a process that has exited', async () => exitedPid()],
    [
      'our own pid, from a previous life of this pid (a container restart)',
      () => Promise.resolve(process.pid),
    ],
    ['garbage', () => Promise.resolve(Number.NaN)],
  ])('a lock naming %s is stale and taken over', async (_what, pid) => {
    await plant([`tmp/${ID}.eml`]);
    await writeFile(join(dir, 'lock'), `${String(await pid())}\n`);
    const { spool, removed } = await Spool.open(dir);
    expect(await readFile(join(dir, 'lock'), 'utf8')).toBe(OUR_LOCK);
    expect(removed).toEqual([`tmp/${ID}.eml`]);
    await spool.close();
  });
});

describe('Spool lock: a spool on storage shared between hosts', () => {
  const other = 'mx2.elsewhere.example';

  it('a fresh lock from another host is refused, naming the host; nothing is recovered', async () => {
    await plant([`tmp/${ID}.eml`]);
    await writeFile(join(dir, 'lock'), `4242 ${other}\n`);
    await expect(Spool.open(dir)).rejects.toThrow(
      `spool ${dir} is in use by process 4242 on host ${other} (`,
    );
    expect(await ls('tmp')).toEqual([`${ID}.eml`]);
  });

  it(`a lock from another host untouched for ${String(LOCK_STALE_MS / 1000)} s is stale and taken over`, async () => {
    await writeFile(join(dir, 'lock'), `4242 ${other}\n`);
    const then = new Date(Date.now() - LOCK_STALE_MS - 1000);
    await utimes(join(dir, 'lock'), then, then);
    const { spool } = await Spool.open(dir);
    expect(await readFile(join(dir, 'lock'), 'utf8')).toBe(OUR_LOCK);
    await spool.close();
  });

  it('the holder keeps its lock fresh (heartbeat), and releasing removes it', async () => {
    const release = await lockSpool(dir, { heartbeatMs: 20 });
    const then = new Date(Date.now() - 60_000);
    await utimes(join(dir, 'lock'), then, then);
    await vi.waitFor(async () =>
      expect(Date.now() - (await stat(join(dir, 'lock'))).mtimeMs).toBeLessThan(5000),
    );
    await release();
    expect(await readdir(dir)).toEqual([]);
  });
});

async function exitedPid(): Promise<number> {
  const child = spawn('true', { stdio: 'ignore' });
  await once(child, 'exit');
  if (child.pid === undefined) throw new Error('no pid');
  return child.pid;
}

describe('Spool.open on a first start', () => {
  it('fsyncs the directories it creates its subdirectories in, the spool directory itself too', async () => {
    const files = new FailingFiles();
    const spoolDir = join(dir, 'spool');
    const { spool } = await Spool.open(spoolDir, { files });
    await spool.close();
    // Those inside the test's directory (the chain goes on above it, to /).
    const syncsOf = (of: FailingFiles) =>
      of.calls(dir).filter((call) => call.startsWith('fsync') && !call.includes(' /'));
    // tmp/'s entry in the spool directory, the spool directory's in its parent, then queue/;
    // the chain every start syncs (spool, its parent); journal/.
    expect(syncsOf(files)).toEqual([
      'fsync spool',
      'fsync .',
      'fsync spool',
      'fsync spool',
      'fsync .',
      'fsync spool',
    ]);
    expect((await readdir(spoolDir)).sort()).toEqual(expect.arrayContaining(['journal', 'queue', 'tmp']));

    // Already there: the chain still, once (a start killed before its syncs left them undone).
    const again = new FailingFiles();
    const reopened = await Spool.open(spoolDir, { files: again });
    await reopened.spool.close();
    expect(syncsOf(again)).toEqual(['fsync spool', 'fsync .']);
    expect(
      again
        .calls(dir)
        .filter((call) => call.startsWith('fsync'))
        .at(-1),
    ).toBe('fsync /');
  });

  it('starts when a directory above the spool cannot be opened, and not when the spool itself cannot', async () => {
    const spoolDir = join(dir, 'spool');
    await (await Spool.open(spoolDir)).spool.close();
    // A parent this user may pass through but not read (mode 0711): its fsync is skipped.
    const above = new FailingFiles();
    above.fail('openDirectory', 'EACCES', { path: /^\/$/ });
    const started = await Spool.open(spoolDir, { files: above });
    await started.spool.close();
    expect(above.calls(dir)).toContain('openDirectory / FAILED');

    const itself = new FailingFiles();
    itself.fail('openDirectory', 'EACCES', { path: /\/spool$/ });
    await expect(Spool.open(spoolDir, { files: itself })).rejects.toMatchObject({ code: 'EACCES' });
  });
});
