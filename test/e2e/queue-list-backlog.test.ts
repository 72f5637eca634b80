import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { QueueEntry } from '../../src/cli/queue.js';
import { replyOutcome } from '../../src/delivery/outcome.js';
import { serializeState, type DeliveryState } from '../../src/delivery/state.js';
import type { Envelope } from '../../src/spool/envelope.js';
import { encodeTrailer } from '../../src/spool/queue-file.js';
import { testEnvelope } from '../helpers/envelope.js';
import { cliWithFileLimit, runCli, writeProcessConfig } from '../helpers/process.js';
import { Limiter } from '../../src/util/limiter.js';

const message = Buffer.from('Received: from x\r\nSubject: backlog\r\n\r\nbody\r\n');

function envelopeOf(id: string, rcpts: readonly string[]): Envelope {
  return testEnvelope(id, message.length, { rcptTo: rcpts.map((address) => ({ address })) });
}

/** Deferred (two open recipients with their own replies, one delivered), or held. */
function stateOf(held: boolean): DeliveryState {
  const at = '2026-11-30T10:01:00.000Z';
  return {
    version: 2,
    attempts: 1,
    nextAttemptAt: '2026-11-30T11:00:00.000Z',
    held,
    outbox: [],
    commandSeq: 0,
    recipients: [
      { address: 'done@b.test', status: 'delivered', outcome: replyOutcome('250 2.0.0 Ok', 'mx.b.test'), at },
      {
        address: 'busy@b.test',
        status: 'deferred',
        outcome: replyOutcome('451 4.7.1 Greylisted', 'mx.b.test'),
        at,
      },
      {
        address: 'full@c.test',
        status: 'deferred',
        outcome: replyOutcome('452 4.2.2 Mailbox full', 'mx.c.test'),
        at,
      },
    ],
  };
}

/** Writes queue files directly (as the spool lays them out), without a server. */
async function fillSpool(
  spool: string,
  count: number,
  stateFor: (i: number) => DeliveryState | undefined,
): Promise<string[]> {
  const queue = join(spool, 'queue');
  await mkdir(queue, { recursive: true });
  await mkdir(join(spool, 'tmp'), { recursive: true });
  const files = new Limiter(32);
  const ids = Array.from({ length: count }, (_, i) => `0MWSF${String(i).padStart(12, '0')}`);
  await Promise.all(
    ids.map((id, i) =>
      files.run(async () => {
        const envelope = envelopeOf(id, ['done@b.test', 'busy@b.test', 'full@c.test']);
        await writeFile(join(queue, `${id}.eml`), Buffer.concat([message, encodeTrailer(envelope)]));
        const state = stateFor(i);
        if (state) await writeFile(join(queue, `${id}.state.json`), serializeState(state));
      }),
    ),
  );
  return ids;
}

describe('queue list and bulk commands on a backlog', () => {
  const roots: string[] = [];
  afterAll(async () => {
    await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  });

  it('lists 20,000 queued messages under ulimit -n 256, each with its open recipients and their own reasons', async () => {
    const { root, path, spool } = await writeProcessConfig();
    roots.push(root);
    const ids = await fillSpool(spool, 20_000, (i) =>
      i === 7 ? stateOf(true) : i % 2 === 0 ? stateOf(false) : undefined,
    );
    const started = Date.now();
    const listed = await cliWithFileLimit(256, ['queue', 'list', '--json', '--config', path]);
    console.log(`queue list --json of 20,000 messages: ${String(Date.now() - started)} ms`);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    const entries = JSON.parse(listed.stdout) as QueueEntry[];
    expect(entries).toHaveLength(20_000);
    const byId = new Map(entries.map((e) => [e.id, e]));
    expect(byId.get(ids[0] ?? '')?.status).toBe('deferred');
    expect(byId.get(ids[0] ?? '')?.open).toEqual([
      { address: 'busy@b.test', status: 'deferred', reason: '451 4.7.1 Greylisted' },
      { address: 'full@c.test', status: 'deferred', reason: '452 4.2.2 Mailbox full' },
    ]);
    expect(byId.get(ids[1] ?? '')?.status).toBe('queued');
    expect(byId.get(ids[1] ?? '')?.open.map((r) => r.status)).toEqual(['pending', 'pending', 'pending']);
    expect(byId.get(ids[7] ?? '')?.status).toBe('held');

    const table = await cliWithFileLimit(256, ['queue', 'list', '--config', path]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^${ids[7] ?? ''}\\s+\\d+\\s+held\\s`, 'm'));
    expect(table.stdout).toContain(
      `\n    busy@b.test  deferred  451 4.7.1 Greylisted\n    full@c.test  deferred  452 4.2.2 Mailbox full\n`,
    );
    expect(table.stdout).not.toContain('done@b.test  delivered');
    expect(table.stdout).toMatch(/^20000 message\(s\)$/m);
  }, 180_000);

  it('bulk hold/release/delete/bounce: ALL by status, and IDs from stdin', async () => {
    const { root, path, spool } = await writeProcessConfig();
    roots.push(root);
    // 0-2 deferred, 3-4 not tried yet, 5 held.
    const ids = await fillSpool(spool, 6, (i) =>
      i <= 2 ? stateOf(false) : i === 5 ? stateOf(true) : undefined,
    );
    const cli = (args: string[], input?: string) =>
      runCli([...args, '--config', path], input === undefined ? {} : { input });
    const statuses = async () =>
      Object.fromEntries(
        (JSON.parse((await cli(['queue', 'list', '--json'])).stdout) as QueueEntry[]).map((e) => [
          e.id.slice(-1),
          e.status,
        ]),
      );

    expect((await cli(['queue', 'release', 'ALL', 'held'])).stdout).toBe('release: 1 message(s)\n');
    expect((await cli(['queue', 'hold', 'ALL', 'deferred'])).stdout).toBe('hold: 4 message(s)\n');
    expect(await statuses()).toEqual({
      '0': 'held',
      '1': 'held',
      '2': 'held',
      '3': 'queued',
      '4': 'queued',
      '5': 'held',
    });

    expect((await cli(['queue', 'delete', '-'], `${ids[0] ?? ''}\n${ids[3] ?? ''}\n`)).stdout).toBe(
      'delete: 2 message(s)\n',
    );
    expect(await statuses()).toEqual({ '1': 'held', '2': 'held', '4': 'queued', '5': 'held' });

    // Bounced offline: the DSN waits in the message's outbox for the server to send it.
    expect((await cli(['queue', 'bounce', 'ALL', 'queued'])).stdout).toBe('bounce: 1 message(s)\n');
    const bounced = (JSON.parse((await cli(['queue', 'list', '--json'])).stdout) as QueueEntry[]).find(
      (e) => e.id === ids[4],
    );
    expect(bounced?.open).toEqual([]);
    expect(bounced?.delivery?.outbox).toEqual([
      { kind: 'failed', recipients: ['done@b.test', 'busy@b.test', 'full@c.test'] },
    ]);

    const wrong = await cli(['queue', 'hold', 'ALL', 'stuck']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe('mailwharf: queue hold ALL takes held, deferred or queued, not stuck\n');
    const missing = await cli(['queue', 'hold', '-'], 'NOSUCHID00000000X\n');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no message NOSUCHID00000000X/);
  }, 60_000);
});
