import { afterEach, describe, expect, it } from 'vitest';
import { startMailwharf } from '../../src/index.js';
import { storedText } from '../helpers/stored.js';
import { firstState, startRelay, submit } from '../helpers/relay.js';

/**
 * A bounce for a refused recipient goes out after the attempt that got the refusal, not
 * when the slowest recipient of the message is done (Postfix bounces within seconds).
 */
describe('relay bounces on time', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('250, 550 and 450 recipients: the DSN for the 550 comes while the 450 one still waits', async () => {
    const upstream = await startMailwharf();
    cleanups.push(() => upstream.stop());
    upstream.faults.add({
      stage: 'rcpt',
      recipient: 'gone@',
      reply: { code: 550, enhanced: '5.1.1', text: 'No such user' },
    });
    upstream.faults.add({
      stage: 'rcpt',
      recipient: 'slow@',
      reply: { code: 450, enhanced: '4.2.1', text: 'Try later' },
    });
    // Retries an hour apart: only the first attempt happens during the test.
    const started = await startRelay(
      { type: 'smarthost', host: '127.0.0.1', port: upstream.ports.smtp, tls: 'none' },
      { retry: { firstRetrySeconds: 3600, maxRetrySeconds: 3600 } },
    );
    cleanups.push(started.close);
    await submit(started.relay, {
      from: 'sender@relay.test',
      to: ['ok@one.test', 'gone@one.test', 'slow@one.test'],
      subject: 'Three ways',
    });
    const dsn = await upstream.waitForMessage({ recipient: 'sender@relay.test' }, { timeout: 10_000 });
    expect(dsn.envelope.mailFrom).toBe('');
    const raw = await storedText(upstream.server.spool, dsn.id, 'utf8');
    expect(raw).toMatch(/^Final-Recipient: rfc822; gone@one\.test\r$/m);
    expect(raw).toMatch(/^Status: 5\.1\.1\r$/m);
    expect(raw).not.toMatch(/^Final-Recipient: rfc822; (slow|ok)@one\.test/m);
    const state = await firstState(started.relay, (s) => s.attempts === 1, 'the first attempt');
    expect(state.recipients.map((r) => [r.address, r.status])).toEqual([
      ['ok@one.test', 'delivered'],
      ['gone@one.test', 'failed'],
      ['slow@one.test', 'deferred'],
    ]);
    expect(upstream.messages({ subject: 'Three ways' })).toHaveLength(1);
  });
});
