import { rm } from 'node:fs/promises';
import nodemailer from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import { startMailwharf } from '../../src/index.js';
import { startServerProcess, writeProcessConfig } from '../helpers/process.js';
import { eventually } from '../helpers/relay.js';
import { runCli } from '../helpers/process.js';
import type { Envelope } from '../../src/spool/envelope.js';

describe('kill -9 during delivery', () => {
  const roots: string[] = [];
  afterAll(async () => {
    await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  });

  it('resumes after restart and delivers every message, none twice', async () => {
    await using upstream = await startMailwharf();
    // Hold every delivery at RCPT, long past any load's delay, so the kill lands inside an
    // open transaction. Not at DATA: the relay would have sent the whole message and its
    // final dot, and a receiver that holds a complete message keeps it even when its 250
    // finds the client gone (as Postfix does). That copy plus the retry is the duplicate
    // SMTP cannot avoid (RFC 1047); a test that kills there measures the race, not us.
    const stall = upstream.faults.add({ stage: 'rcpt', delayMs: 30_000 });
    const { root, path } = await writeProcessConfig({
      mode: 'relay',
      delivery: {
        route: { type: 'smarthost', host: '127.0.0.1', port: upstream.ports.smtp, tls: 'none' },
        retry: { firstRetrySeconds: 0.2, maxRetrySeconds: 0.5 },
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
    const subjects = Array.from({ length: 5 }, (_, i) => `crash-relay ${String(i)}`);
    for (const subject of subjects)
      await client.sendMail({ from: 'app@local.test', to: 'user@example.org', subject, text: subject });

    await eventually(
      () => (upstream.faults.fired(stall) >= 1 ? true : undefined),
      'a delivery in the middle of its transaction',
    );
    relay.child.kill('SIGKILL');
    expect((await relay.exited()).signal).toBe('SIGKILL');
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
    for (const subject of subjects) expect(upstream.messages({ subject })).toHaveLength(1);
    restarted.child.kill('SIGTERM');
    expect((await restarted.exited()).code).toBe(0);
  }, 60_000);
});
