import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MailwharfServer } from '../../src/index.js';
import { freePort } from '../helpers/external.js';
import { eventually, queuedStates, startRelay, submit } from '../helpers/relay.js';
import { startReceiver, type Receiver } from '../helpers/smtp-receiver.js';

/**
 * delivery.rateLimits: at most 2 messages a minute to slow.test. Four are sent: two go, two
 * wait in the queue without an attempt counted, due when the window frees (about a minute
 * after the first), while mail to another domain goes at once.
 */
let receiver: Receiver;
let relay: MailwharfServer;
let close: () => Promise<void>;

beforeAll(async () => {
  receiver = await startReceiver('127.0.0.1', await freePort());
  ({ relay, close } = await startRelay(
    { type: 'smarthost', host: '127.0.0.1', port: receiver.port, tls: 'none' },
    { delivery: { rateLimits: [{ domains: ['slow.test'], messagesPerMinute: 2 }] } },
  ));
});

afterAll(async () => {
  await close();
  await receiver.stop();
});

const to = (domain: string): number =>
  receiver.received.filter((m) => m.rcptTo[0]?.endsWith(`@${domain}`)).length;

describe('delivery rate per destination domain', () => {
  it('sends no more than the limit, keeps the rest queued without counting an attempt', async () => {
    const start = Date.now();
    for (let i = 1; i <= 4; i++)
      await submit(relay, {
        from: 'app@relay.test',
        to: `u${String(i)}@slow.test`,
        subject: `slow ${String(i)}`,
      });
    await submit(relay, { from: 'app@relay.test', to: 'a@fast.test', subject: 'fast' });
    const waiting = await eventually(async () => {
      const states = (await queuedStates(relay)).flatMap(({ state }) =>
        state?.recipients[0]?.outcome?.enhanced === '4.7.0' ? [state] : [],
      );
      return states.length === 2 && to('fast.test') === 1 && to('slow.test') === 2 ? states : undefined;
    }, 'two messages held back by the rate limit, the other domain delivered');
    for (const state of waiting) {
      expect(state.attempts).toBe(0);
      expect(state.recipients[0]?.outcome?.text).toMatch(
        /^message rate limit for slow\.test reached \(2 messages per minute\); next try in \d+ s$/,
      );
      // Due when the first message leaves the one-minute window, not at the 0.2 s retry.
      expect(Date.parse(state.nextAttemptAt)).toBeGreaterThan(start + 50_000);
    }
    // Nothing accepted is lost: the two delivered leave the queue, the two held stay.
    await eventually(async () => ((await relay.spool.list()).length === 2 ? true : undefined), 'two queued');
    expect(to('slow.test')).toBe(2);
  });
});
