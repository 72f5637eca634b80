import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startExternal, waitForPort, type External } from '../helpers/external.js';
import { eventually, firstState, startRelay, submit } from '../helpers/relay.js';

/**
 * Delivery against Postfix's smtp-sink (Debian package postfix), started by the test with
 * its own flags; no system Postfix is involved.
 */
describe('relay to Postfix smtp-sink', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function sink(flags: string[]): Promise<{ port: number; sink: External }> {
    const port = await freePort();
    const sink = startExternal('/usr/sbin/smtp-sink', [
      ...flags,
      '-u',
      'nobody',
      '-h',
      'sink.test',
      `127.0.0.1:${String(port)}`,
      '64',
    ]);
    cleanups.push(() => sink.stop());
    await waitForPort(port);
    return { port, sink };
  }

  async function relayTo(port: number) {
    const started = await startRelay(
      { type: 'smarthost', host: '127.0.0.1', port, tls: 'none' },
      { retry: { firstRetrySeconds: 3600, maxRetrySeconds: 3600 } },
    );
    cleanups.push(started.close);
    return started.relay;
  }

  it('delivers, and the queue empties', async () => {
    const { port } = await sink(['-c']);
    const relay = await relayTo(port);
    for (let i = 0; i < 5; i++)
      await submit(relay, {
        from: 'app@relay.test',
        to: `user${String(i)}@example.org`,
        subject: `sink ${String(i)}`,
      });
    await eventually(
      async () => ((await relay.spool.list()).length === 0 ? true : undefined),
      'all five delivered',
    );
  });

  it('a 4xx from smtp-sink defers the recipient with the remote reply', async () => {
    const { port } = await sink(['-r', 'rcpt']);
    const relay = await relayTo(port);
    await submit(relay, { from: 'app@relay.test', to: 'user@example.org', subject: 'soft' });
    const state = await firstState(relay, (s) => s.attempts > 0, 'a first attempt');
    expect(state.recipients[0]?.status).toBe('deferred');
    expect(state.recipients[0]?.outcome?.code).toBeGreaterThanOrEqual(400);
    expect(state.recipients[0]?.outcome?.permanent).toBe(false);
    expect(await relay.spool.list()).toHaveLength(1);
  });

  it('a 5xx fails the recipient and bounces; the bounce itself failing is not bounced again', async () => {
    const { port } = await sink(['-f', 'rcpt']);
    const relay = await relayTo(port);
    const bounces: string[] = [];
    relay.spool.onCommitted((envelope) => {
      if (envelope.mailFrom === '') bounces.push(envelope.rcptTo.map((r) => r.address).join(','));
    });
    await submit(relay, { from: 'app@relay.test', to: 'user@example.org', subject: 'hard' });
    // The DSN goes the same way, is refused too, and being from <> ends there.
    await eventually(
      async () => ((await relay.spool.list()).length === 0 && bounces.length === 1 ? true : undefined),
      'original and DSN both gone',
    );
    expect(bounces).toEqual(['app@relay.test']);
  });
});
