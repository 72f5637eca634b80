import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import type { QueueEntry } from '../../src/cli/queue.js';
import { startMailwharf } from '../../src/index.js';
import { runCli } from '../helpers/process.js';
import { eventually, startRelay, submit } from '../helpers/relay.js';

/**
 * Operator commands through the real CLI against a running relay, and against a stopped one.
 * Each test starts a dozen CLI processes; on a loaded 2-core machine one takes a second or
 * more, so the budget is per file, not the suite's 30 s.
 */
describe('mailwharf queue operations', { timeout: 120_000 }, () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup() {
    const upstream = await startMailwharf();
    cleanups.push(() => upstream.stop());
    // Everything is greylisted until the test clears the rule; retries are an hour apart,
    // so only the operator's commands make anything move.
    upstream.faults.add({ stage: 'rcpt', reply: { code: 451, enhanced: '4.7.1', text: 'Greylisted' } });
    const started = await startRelay(
      { type: 'smarthost', host: '127.0.0.1', port: upstream.ports.smtp, tls: 'none' },
      { retry: { firstRetrySeconds: 3600, maxRetrySeconds: 3600 } },
    );
    cleanups.push(started.close);
    // Stops the server but keeps its spool, for the offline commands.
    const stopRelay = () => started.relay.stop();
    const configPath = join(started.root, 'cli.yaml');
    await writeFile(configPath, stringify({ ...started.relay.config, log: { level: 'silent' } }));
    const cli = (...args: string[]) => runCli([...args, '--config', configPath]);
    const list = async () => JSON.parse((await cli('queue', 'list', '--json')).stdout) as QueueEntry[];
    const send = (subject: string) =>
      submit(started.relay, { from: 'sender@relay.test', to: 'user@example.org', subject });
    const idOf = async (subject: string) =>
      eventually(async () => {
        for (const entry of await list()) {
          const shown = await cli('queue', 'show', entry.id);
          if (shown.stdout.includes(`Subject: ${subject}\r\n`)) return entry.id;
        }
        return undefined;
      }, `message ${subject}`);
    const deferred = async (id: string) =>
      eventually(async () => {
        const entry = (await list()).find((e) => e.id === id);
        return entry?.delivery?.recipients[0]?.status === 'deferred' ? entry : undefined;
      }, `${id} deferred`);
    return { upstream, relay: started.relay, cli, list, send, idOf, deferred, stopRelay };
  }

  it('list shows state, attempts, next attempt and last error', async () => {
    const { cli, send, idOf, deferred } = await setup();
    await send('Listed');
    const id = await idOf('Listed');
    const entry = await deferred(id);
    expect(entry.delivery?.attempts).toBe(1);
    expect(entry.status).toBe('deferred');
    expect(entry.open).toEqual([
      { address: 'user@example.org', status: 'deferred', reason: '451 4.7.1 Greylisted' },
    ]);
    expect(Date.parse(entry.delivery?.nextAttemptAt ?? '') - Date.now()).toBeGreaterThan(3000 * 1000);
    const table = await cli('queue', 'list');
    expect(table.stdout).toMatch(
      new RegExp(
        `^${id}\\s+\\d+\\s+deferred\\s+\\S+\\s+1\\s+\\S+\\s+sender@relay\\.test\n\\s+user@example\\.org  deferred  451 4\\.7\\.1 Greylisted$`,
        'm',
      ),
    );
  });

  it('flush retries now; hold keeps a message back until release', async () => {
    const { upstream, cli, send, idOf, deferred, list } = await setup();
    await send('Flushed');
    await send('Held');
    const flushed = await idOf('Flushed');
    const held = await idOf('Held');
    await deferred(flushed);
    await deferred(held);
    upstream.faults.clear();

    expect((await cli('queue', 'hold', held)).stdout).toBe('hold: handed to the running server\n');
    expect((await cli('queue', 'flush')).code).toBe(0);
    await upstream.waitForMessage({ subject: 'Flushed' }, { timeout: 10_000 });
    const still = (await list()).find((e) => e.id === held);
    expect(still?.delivery?.held).toBe(true);
    expect((await cli('queue', 'list')).stdout).toMatch(new RegExp(`^${held}\\s+\\d+\\s+held\\s`, 'm'));
    expect(upstream.messages({ subject: 'Held' })).toEqual([]);

    await cli('queue', 'release', held);
    await upstream.waitForMessage({ subject: 'Held' }, { timeout: 10_000 });
    await eventually(async () => ((await list()).length === 0 ? true : undefined), 'an empty queue');
  });

  it('delete removes a message; bounce returns it to the sender with a DSN', async () => {
    const { upstream, cli, send, idOf, deferred, list } = await setup();
    await send('Deleted');
    await send('Bounced');
    const deleted = await idOf('Deleted');
    const bounced = await idOf('Bounced');
    await deferred(bounced);
    upstream.faults.clear();

    await cli('queue', 'delete', deleted);
    expect((await list()).map((e) => e.id)).not.toContain(deleted);
    await cli('queue', 'bounce', bounced);
    const dsn = await upstream.waitForMessage({ recipient: 'sender@relay.test' }, { timeout: 10_000 });
    expect(dsn.envelope.mailFrom).toBe('');
    expect(dsn.text).toContain('returned to the sender by the operator');
    await eventually(async () => ((await list()).length === 0 ? true : undefined), 'an empty queue');
    expect(upstream.messages({ subject: 'Bounced' })).toEqual([]);
  });

  it('with no server running, commands apply to the spool directly', async () => {
    const { cli, send, idOf, deferred, list, stopRelay } = await setup();
    await send('Offline');
    const id = await idOf('Offline');
    await deferred(id);
    await stopRelay();
    expect((await cli('queue', 'hold', id)).stdout).toBe('hold: 1 message(s)\n');
    expect((await list()).find((e) => e.id === id)?.delivery?.held).toBe(true);
    const missing = await cli('queue', 'hold', '0000000000000000X');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no message 0000000000000000X/);
  });
});
