import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { localOutcome, replyOutcome, type Outcome } from '../../../src/delivery/outcome.js';
import { parseState } from '../../../src/delivery/state.js';
import { DeliveryWorker } from '../../../src/delivery/worker.js';
import { Journal, segmentName } from '../../../src/spool/journal.js';
import type { Envelope } from '../../../src/spool/envelope.js';
import { Spool } from '../../../src/spool/spool.js';
import { flipByteOf } from '../../helpers/flip-byte.js';
import { eventually } from '../../helpers/relay.js';
import { FakeCourier } from '../../helpers/fake-courier.js';
import { queueMessage, workerConfig } from '../../helpers/worker-config.js';

/** The worker with a fake Courier: the queue's behaviour without any SMTP peer. */
describe('DeliveryWorker with a fake courier', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(script: (address: string, attempt: number) => Outcome) {
    const root = await mkdtemp(join(tmpdir(), 'mailwharf-worker-'));
    const { spool } = await Spool.open(join(root, 'spool'));
    cleanups.push(async () => {
      await spool.close();
      await rm(root, { recursive: true, force: true });
    });
    const config = workerConfig(join(root, 'spool'), {
      retry: { firstRetrySeconds: 0.05, maxRetrySeconds: 0.05, giveUpAfterSeconds: 600 },
    });
    const courier = new FakeCourier(script);
    const worker = new DeliveryWorker({ spool, config, log: pino({ level: 'silent' }), courier });
    await worker.start();
    cleanups.push(() => worker.stop(1000));
    return { spool, courier, worker };
  }

  const ok = replyOutcome('250 2.0.0 Ok', 'mx.test');
  const later = replyOutcome('451 4.7.1 Greylisted', 'mx.test');
  const gone = replyOutcome('550 5.1.1 No such user', 'mx.test');

  it('retries only the deferred recipient; the failed one is bounced after the first attempt', async () => {
    const { spool, courier } = await setup((address, attempt) =>
      address.startsWith('gone') ? gone : address.startsWith('slow') && attempt < 3 ? later : ok,
    );
    const bounces: string[] = [];
    spool.onCommitted((e) => {
      if (e.mailFrom === '') bounces.push(e.id);
    });
    const original = await queueMessage(spool, 'Subject: x\r\n\r\nbody\r\n', [
      'ok@b.test',
      'gone@b.test',
      'slow@b.test',
    ]);
    await eventually(
      () => (courier.calls.filter((c) => c.id === original.id).length >= 3 ? true : undefined),
      'three attempts',
    );
    const attempts = courier.calls
      .filter((c) => c.id === original.id)
      .map((c) => c.recipients.map((r) => r.address));
    expect(attempts).toEqual([['ok@b.test', 'gone@b.test', 'slow@b.test'], ['slow@b.test'], ['slow@b.test']]);
    expect(bounces).toHaveLength(1);
    // The bounce went out before the slow recipient was done: it was queued after attempt 1.
    const bounceCall = courier.calls.findIndex((c) => c.id === bounces[0]);
    expect(bounceCall).toBeGreaterThan(0);
    expect(bounceCall).toBeLessThan(courier.calls.findLastIndex((c) => c.id === original.id));
    await eventually(async () => ((await spool.list()).length === 0 ? true : undefined), 'an empty queue');
  });

  it('a permanent failure of our own (no reply) is not retried', async () => {
    const { spool, courier } = await setup(() => localOutcome('5.1.10', 'null MX'));
    const message = await queueMessage(spool, 'Subject: x\r\n\r\nbody\r\n', ['x@null.test'], '');
    await eventually(async () => ((await spool.list()).length === 0 ? true : undefined), 'an empty queue');
    expect(courier.calls.map((c) => c.id)).toEqual([message.id]);
  });

  it('the state after a deferral keeps the outcome as data', async () => {
    const { spool } = await setup(() => later);
    const message = await queueMessage(spool, 'Subject: x\r\n\r\nbody\r\n', ['slow@b.test']);
    const state = await eventually(async () => {
      const text = await spool.readState(message.id);
      const parsed = text === undefined ? undefined : parseState(text);
      return parsed && parsed.attempts >= 1 ? parsed : undefined;
    }, 'an attempt');
    expect(state.recipients[0]).toMatchObject({ status: 'deferred', outcome: later });
    expect(state.eightBit).toBe(false);
  });
});

/** A queued message whose spooled bytes fail their CRC (see journal-read-crc.test.ts). */
describe('DeliveryWorker and a damaged spooled message', () => {
  it('is not handed to the courier: quarantined, removed with its state, logged', async () => {
    const root = await mkdtemp(join(tmpdir(), 'mailwharf-worker-damaged-'));
    const { spool } = await Spool.open(join(root, 'spool'));
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const courier = new FakeCourier(() => replyOutcome('250 2.0.0 Ok', 'mx.test'));
    let worker: DeliveryWorker | undefined;
    try {
      const queue = (body: string) => queueMessage(spool, `Subject: x\r\n\r\n${body}\r\n`, ['rcpt@b.test']);
      const damaged = await queue('DAMAGED-BODY');
      const intact = await queue('INTACT-BODY');
      await flipByteOf(join(root, 'spool', 'journal', segmentName(1)), 'DAMAGED-BODY', 2);
      const config = workerConfig(join(root, 'spool'));
      worker = new DeliveryWorker({ spool, config, log, courier });
      await worker.start();
      await eventually(async () => ((await spool.count()) === 0 ? true : undefined), 'an empty queue');
      await worker.idle();
      expect(courier.calls.map((c) => c.id)).toEqual([intact.id]);
      expect(worker.queued).toBe(0);
      const report = lines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((l) => l.queueId === damaged.id);
      expect(report).toMatchObject({
        level: 50,
        msg: 'queued message damaged in the spool: not delivered',
        quarantined: join('quarantine', `journal-${segmentName(1)}`),
      });
      expect(await readdir(join(root, 'spool', 'quarantine'))).toEqual([`journal-${segmentName(1)}`]);
    } finally {
      await worker?.stop(1000);
      await spool.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

/**
 * A queued message that the background scrub (or a view's read) finds damaged and removes:
 * the worker is told through the Spool, so it forgets the message at once rather than
 * failing an attempt on its missing bytes every minute until a restart.
 */
describe('DeliveryWorker and a message the scrub removes as damaged', () => {
  it('forgets it, with its state file, and never attempts it again', async () => {
    const root = await mkdtemp(join(tmpdir(), 'mailwharf-worker-scrubbed-'));
    const spoolDir = join(root, 'spool');
    let spool: Spool | undefined;
    let worker: DeliveryWorker | undefined;
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    // Deferred with a long retry: both stay queued, their states on disk, between attempts.
    const courier = new FakeCourier(() => replyOutcome('451 4.7.1 Greylisted', 'mx.test'));
    try {
      const queued = await damagedAndIntactQueued(spoolDir);
      spool = queued.spool;
      const { damaged, intact } = queued;
      const config = workerConfig(spoolDir, {
        retry: { firstRetrySeconds: 600, maxRetrySeconds: 600, giveUpAfterSeconds: 3600 },
      });
      worker = new DeliveryWorker({ spool, config, log, courier });
      await worker.start();
      const current = spool;
      await eventually(async () => {
        const states = await Promise.all([damaged.id, intact.id].map((id) => current.readState(id)));
        return states.every((s) => s !== undefined && (parseState(s)?.attempts ?? 0) >= 1) ? true : undefined;
      }, 'a deferred attempt of each');
      await worker.idle();

      await flipByteOf(join(spoolDir, 'journal', segmentName(1)), 'SCRUBBED-BODY', 2);
      const report = await spool.scrubJournal();
      expect(report).toMatchObject({ segment: 1, lost: [damaged.id] });

      await eventually(
        async () => ((await current.readState(damaged.id)) === undefined ? true : undefined),
        'its state gone',
      );
      await worker.idle();
      expect(worker.queued).toBe(1);
      expect(await spool.readState(intact.id)).toBeDefined();
      const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(logged.find((l) => l.queueId === damaged.id && l.level === 50)).toMatchObject({
        msg: 'queued message damaged in the spool: not delivered',
      });
      expect(logged.filter((l) => l.msg === 'delivery attempt failed unexpectedly')).toEqual([]);
      expect(courier.calls.filter((c) => c.id === damaged.id)).toHaveLength(1);
    } finally {
      await worker?.stop(1000);
      await spool?.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

/**
 * The scrub's announcement racing the worker's start-up rescan: it comes after the listing read
 * the message but before the worker took it up (`list`), or while its state is read
 * (`readState`). Made to happen at those points by running the scrub inside the spool's call.
 * Either way the worker must end up not knowing it, and never attempt it.
 */
describe('DeliveryWorker start-up and a message the scrub removes meanwhile', () => {
  for (const during of ['list', 'readState'] as const) {
    it(`forgets it whichever comes first (announced during ${during})`, async () => {
      const root = await mkdtemp(join(tmpdir(), 'mailwharf-worker-race-'));
      const spoolDir = join(root, 'spool');
      let spool: Spool | undefined;
      let worker: DeliveryWorker | undefined;
      const lines: string[] = [];
      const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
      const courier = new FakeCourier(() => replyOutcome('451 4.7.1 Greylisted', 'mx.test'));
      try {
        const queued = await damagedAndIntactQueued(spoolDir);
        spool = queued.spool;
        const { damaged, intact } = queued;
        const current = spool;
        await flipByteOf(join(spoolDir, 'journal', segmentName(1)), 'SCRUBBED-BODY', 2);
        const scrubbed: unknown[] = [];
        if (during === 'list') {
          const list = current.list.bind(current);
          current.list = async () => {
            const listed = await list();
            scrubbed.push(await current.scrubJournal());
            return listed;
          };
        } else {
          const readState = current.readState.bind(current);
          current.readState = async (id: string) => {
            if (id === damaged.id && scrubbed.length === 0) scrubbed.push(await current.scrubJournal());
            return readState(id);
          };
        }
        const config = workerConfig(spoolDir, {
          retry: { firstRetrySeconds: 600, maxRetrySeconds: 600, giveUpAfterSeconds: 3600 },
        });
        worker = new DeliveryWorker({ spool, config, log, courier });
        await worker.start();
        expect(scrubbed).toEqual([expect.objectContaining({ segment: 1, lost: [damaged.id] })]);
        await eventually(
          async () => ((await current.readState(intact.id)) !== undefined ? true : undefined),
          'the intact message attempted',
        );
        await worker.idle();
        expect(worker.queued).toBe(1);
        expect(courier.calls.map((c) => c.id)).toEqual([intact.id]);
        const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
        expect(logged.filter((l) => l.msg === 'delivery attempt failed unexpectedly')).toEqual([]);
      } finally {
        await worker?.stop(1000);
        await spool?.close();
        await rm(root, { recursive: true, force: true });
      }
    });
  }
});

/** Two messages queued, the first (to be damaged) in a sealed segment; the spool reopened. */
async function damagedAndIntactQueued(
  spoolDir: string,
): Promise<{ spool: Spool; damaged: Envelope; intact: Envelope }> {
  const first = (await Spool.open(spoolDir)).spool;
  const queue = (body: string) => queueMessage(first, `Subject: x\r\n\r\n${body}\r\n`, ['rcpt@b.test']);
  const damaged = await queue('SCRUBBED-BODY');
  const intact = await queue('INTACT-BODY');
  await first.close();
  await sealFirstSegment(spoolDir, intact.id);
  return { spool: (await Spool.open(spoolDir)).spool, damaged, intact };
}

/**
 * Moves `id`'s record to a later segment, so the first one (with every other message) is
 * sealed: the scrub checks only sealed segments, and a spool's journal seals one at 16 MiB.
 */
async function sealFirstSegment(spoolDir: string, id: string): Promise<void> {
  const { journal } = await Journal.open(join(spoolDir, 'journal'), {
    writer: true,
    quarantineDir: join(spoolDir, 'quarantine'),
    segmentBytes: 1,
  });
  try {
    const location = journal.location(id);
    if (!location) throw new Error(`${id} is not in the journal`);
    const payload = await journal.readWhole(location);
    await journal.remove(id, true);
    await journal.append(id, [payload]);
    expect(journal.location(id)?.segment).toBeGreaterThan(1);
  } finally {
    await journal.close();
  }
}
