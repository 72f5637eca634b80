import { existsSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import type { QueueEntry } from '../../src/cli/queue.js';
import { startMailwharf } from '../../src/index.js';
import { runCli, startServerProcess, writeProcessConfig } from '../helpers/process.js';
import { eventually } from '../helpers/relay.js';

/**
 * Operator commands in the order the operator gave them, across a stopped and a killed
 * server: a command left behind in control/ never overrides a later one given offline.
 */
describe('queue commands: the last word wins', () => {
  const roots: string[] = [];
  afterAll(async () => {
    await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  });

  it('hold → SIGSTOP → release (left in control/) → SIGKILL → hold offline → start: stays held', async () => {
    await using upstream = await startMailwharf();
    upstream.faults.add({ stage: 'rcpt', reply: { code: 451, enhanced: '4.7.1', text: 'Greylisted' } });
    const { root, path, spool } = await writeProcessConfig({
      mode: 'relay',
      delivery: {
        route: { type: 'smarthost', host: '127.0.0.1', port: upstream.ports.smtp, tls: 'none' },
        retry: { firstRetrySeconds: 3600, maxRetrySeconds: 3600 },
        pollSeconds: 0.2,
      },
    });
    roots.push(root);
    const cli = (...args: string[]) => runCli([...args, '--config', path]);
    const list = async () => JSON.parse((await cli('queue', 'list', '--json')).stdout) as QueueEntry[];

    const first = await startServerProcess(path);
    await nodemailer
      .createTransport({ host: '127.0.0.1', port: first.ports.smtp ?? 0, ignoreTLS: true })
      .sendMail({ from: 'app@local.test', to: 'user@example.org', subject: 'Ordered', text: 'x' });
    const [entry] = await eventually(async () => {
      const entries = await list();
      return entries[0]?.status === 'deferred' ? entries : undefined;
    }, 'a deferred message');
    const id = entry?.id ?? '';

    expect((await cli('queue', 'hold', id)).stdout).toBe('hold: handed to the running server\n');
    expect((await list())[0]?.status).toBe('held');

    first.child.kill('SIGSTOP');
    const release = await cli('queue', 'release', id);
    expect(release.code).toBe(1);
    expect(release.stderr).toMatch(
      /did not take the release command within 10 s; it stays queued in .*control/,
    );
    first.child.kill('SIGKILL');
    await first.exited();

    // The server is gone: this one is applied to the spool at once, numbered after the release.
    expect((await cli('queue', 'hold', id)).stdout).toBe('hold: 1 message(s)\n');
    // And a file in control/ that is no command at all.
    await writeFile(join(spool, 'control', 'garbage.json'), '{"op":"explode"');

    upstream.faults.clear();
    const second = await startServerProcess(path);
    try {
      const applied = await eventually(
        () => second.logs.find((l) => l.msg === 'queue command applied' && l.op === 'release'),
        'the stale release read',
      );
      // Read, and skipped for this message: the offline hold came after it.
      expect(applied.ids).toEqual([]);
      const quarantined = await eventually(
        () => second.logs.find((l) => l.msg === 'malformed queue command file quarantined'),
        'the malformed file reported',
      );
      expect(quarantined.file).toBe('garbage.json');
      expect(existsSync(join(spool, 'control', 'quarantine', 'garbage.json'))).toBe(true);
      expect((await readdir(join(spool, 'control'))).filter((n) => n.endsWith('.json'))).toEqual([]);
      expect((await list())[0]?.status).toBe('held');
      expect(upstream.messages({ subject: 'Ordered' })).toEqual([]);

      // The operator's next word is heard.
      expect((await cli('queue', 'release', id)).stdout).toBe('release: handed to the running server\n');
      await upstream.waitForMessage({ subject: 'Ordered' }, { timeout: 10_000 });
    } finally {
      second.child.kill('SIGTERM');
      await second.exited();
    }
  }, 60_000);
});
