import { rm } from 'node:fs/promises';
import nodemailer from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import { startMailwharf } from '../../src/index.js';
import type { FaultStage } from '../../src/faults/rules.js';
import { startServerProcess, writeProcessConfig } from '../helpers/process.js';
import { eventually } from '../helpers/relay.js';
import { runCli } from '../helpers/process.js';
import type { Envelope } from '../../src/spool/envelope.js';

/**
 * SIGKILL in the middle of a delivery, then a restart. The guarantee (README, "Crash safety"):
 * nothing is lost; a message is sent twice only when the kill lands after the receiver had
 * the whole message and before its 250 was recorded here (SMTP's at-least-once, RFC 1047;
 * Postfix does the same). One connection, so exactly one delivery is under way at the kill.
 */
describe('kill -9 during delivery', () => {
  const roots: string[] = [];
  afterAll(async () => {
    await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  });

  /** Five messages queued, the relay killed while the upstream stalls at `stage`, restarted, emptied. */
  async function killDuring(stage: FaultStage) {
    await using upstream = await startMailwharf();
    // Longer than any load's delay between the stall and the kill: the kill must land inside it.
    const stall = upstream.faults.add({ stage, delayMs: 30_000 });
    const { root, path } = await writeProcessConfig({
      mode: 'relay',
      delivery: {
        route: { type: 'smarthost', host: '127.0.0.1', port: upstream.ports.smtp, tls: 'none' },
        retry: { firstRetrySeconds: 0.2, maxRetrySeconds: 0.5 },
        concurrency: { total: 1, perDestination: 1 },
        pollSeconds: 0.2,
      },
    });
    roots.push(root);
    const relay = await startServerProcess(path);
    const client = nodemailer.createTransport({
      host: '127.0.0.1',
      port: relay.ports.smtp ?? 0,
      ignoreTLS: true,
    });
    const subjects = Array.from({ length: 5 }, (_, i) => `crash-relay ${stage} ${String(i)}`);
    for (const subject of subjects)
      await client.sendMail({ from: 'app@local.test', to: 'user@example.org', subject, text: subject });

    await eventually(
      () => (upstream.faults.fired(stall) >= 1 ? true : undefined),
      `a delivery stalled at ${stage}`,
    );
    relay.child.kill('SIGKILL');
    expect((await relay.exited()).signal).toBe('SIGKILL');
    // What the receiver had committed when the relay died (its replies were still held back).
    const committedAtKill = upstream.messages().map((m) => m.subject);
    const left = JSON.parse(
      (await runCli(['queue', 'list', '--json', '--config', path])).stdout,
    ) as Envelope[];
    expect(left.length).toBeGreaterThan(0);

    upstream.faults.clear();
    const restarted = await startServerProcess(path);
    for (const subject of subjects) await upstream.waitForMessage({ subject }, { timeout: 15_000 });
    await eventually(async () => {
      const listed = JSON.parse(
        (await runCli(['queue', 'list', '--json', '--config', path])).stdout,
      ) as Envelope[];
      return listed.length === 0 ? true : undefined;
    }, 'an empty relay queue');
    restarted.child.kill('SIGTERM');
    expect((await restarted.exited()).code).toBe(0);
    const copies = new Map(subjects.map((subject) => [subject, upstream.messages({ subject }).length]));
    return { copies, committedAtKill };
  }

  it('killed before the receiver has the whole message: after a restart every message arrives once', async () => {
    const { copies, committedAtKill } = await killDuring('rcpt');
    expect(committedAtKill).toEqual([]);
    expect([...copies.values()]).toEqual([1, 1, 1, 1, 1]);
  }, 60_000);

  it('killed after the receiver committed a message, before its 250 was recorded: that one is sent again, the others once', async () => {
    const { copies, committedAtKill } = await killDuring('after-data');
    // The stalled delivery: stored by the receiver, never acknowledged to the relay.
    expect(committedAtKill).toHaveLength(1);
    for (const [subject, count] of copies) expect(count).toBe(committedAtKill.includes(subject) ? 2 : 1);
  }, 60_000);
});
