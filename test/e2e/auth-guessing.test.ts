import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReply, replies } from '../../src/smtp/replies.js';
import { ALICE, startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe } from '../helpers/smtp-probe.js';

const plain = (user: string, password: string): string =>
  Buffer.from(`\0${user}\0${password}`).toString('base64');

const GUESSERS = 20;
const SOURCES = 4;

/**
 * 20 parallel guessers (5 connections from each of 4 addresses) against alice, and alice
 * logging in from her own address meanwhile. scrypt checks one password at a time, so what
 * a real login waits for is the number of guesses checked before it: with every guesser
 * holding one attempt in the queue, ~20. The throttle keeps guesses out of the queue.
 * Counted on the wire (guesser replies that arrive while alice waits), not timed.
 */
describe('AUTH guessing is throttled per address and account', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer((raw) => {
      const policies = raw.policies as Record<string, unknown>;
      policies.plainauth = { auth: 'required', authRequiresTls: false };
      (raw.listeners as unknown[]).push({
        name: 'plainauth',
        role: 'submission',
        port: 0,
        host: '127.0.0.1',
        tls: 'none',
        policy: 'plainauth',
      });
    });
  });
  afterAll(async () => {
    await mw.close();
  });

  it('a real login waits behind few guesses, not all of them', async () => {
    const port = mw.port('plainauth');
    const run = { stop: false };
    const running = (): boolean => !run.stop;
    let replies_ = 0;
    /** Guesses whose password was checked (535, or 421 at the third failure), not refused unchecked. */
    let checked = 0;
    const guesser = async (n: number): Promise<void> => {
      const localAddress = `127.0.0.${String(50 + (n % SOURCES))}`;
      while (running()) {
        const probe = await SmtpProbe.connect(port, { localAddress });
        await probe.read();
        await probe.command('EHLO guess.test');
        try {
          while (running()) {
            const reply = await probe.command(
              `AUTH PLAIN ${plain(ALICE.username, `guess${String(n)}`)}`,
              60_000,
            );
            replies_++;
            if (reply.code === 535 || reply.code === 421) checked++;
            if (reply.code === 421) break; // authFailuresBeforeDisconnect: reconnect, as a guesser does
          }
        } catch {
          // closed by the server: reconnect
        } finally {
          probe.close();
        }
      }
    };
    const guessing = Promise.all(Array.from({ length: GUESSERS }, (_, n) => guesser(n)));
    try {
      // Until every guesser has been answered about twice on average: past the first round,
      // which goes at once from every connection, before anyone has failed.
      const deadline = Date.now() + 60_000;
      while (replies_ < 2 * GUESSERS) {
        if (Date.now() > deadline) throw new Error(`only ${String(replies_)} guesses answered in 60 s`);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const alice = await SmtpProbe.connect(port, { localAddress: '127.0.0.99' });
      await alice.read();
      await alice.command('EHLO alice.test');
      const before = checked;
      const started = Date.now();
      const reply = await alice.command(`AUTH PLAIN ${plain(ALICE.username, ALICE.password)}`, 60_000);
      const ahead = checked - before;
      console.info(
        `AUTH guessing: alice's login took ${String(Date.now() - started)} ms, ${String(ahead)} guesses checked meanwhile (${String(before)} before, ${String(replies_)} replies in all)`,
      );
      expect(reply.code).toBe(235);
      expect(ahead).toBeLessThanOrEqual(SOURCES);
      alice.close();
    } finally {
      run.stop = true;
    }
    await guessing;
  }, 120_000);

  it('a throttled address waits its delay, then a right password works and resets it', async () => {
    const throttled = await startTestServer((raw) => {
      const policies = raw.policies as Record<string, unknown>;
      policies.plainauth = {
        auth: 'required',
        authRequiresTls: false,
        authThrottle: { baseDelayMs: 1500, maxDelayMs: 1500 },
      };
      (raw.listeners as unknown[]).push({
        name: 'plainauth',
        role: 'submission',
        port: 0,
        host: '127.0.0.1',
        tls: 'none',
        policy: 'plainauth',
      });
    });
    try {
      const probe = await SmtpProbe.connect(throttled.port('plainauth'), { localAddress: '127.0.0.60' });
      await probe.read();
      await probe.command('EHLO guess.test');
      expect((await probe.command(`AUTH PLAIN ${plain(ALICE.username, 'wrong')}`)).code).toBe(535);
      const started = Date.now();
      expect((await probe.command(`AUTH PLAIN ${plain(ALICE.username, ALICE.password)}`)).code).toBe(235);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      probe.close();
      // Reset by the success: the next login from there is checked at once.
      const again = await SmtpProbe.connect(throttled.port('plainauth'), { localAddress: '127.0.0.60' });
      await again.read();
      await again.command('EHLO alice.test');
      expect((await again.command(`AUTH PLAIN ${plain(ALICE.username, ALICE.password)}`)).code).toBe(235);
      again.close();
      // After a failure, two more at once from that address: one is checked after the
      // delay, the other's turn is past maxDelayMs, so it gets 454 4.7.0 unchecked.
      const guessers = await Promise.all(
        [0, 1, 2].map(async () => {
          const guesser = await SmtpProbe.connect(throttled.port('plainauth'), {
            localAddress: '127.0.0.62',
          });
          await guesser.read();
          await guesser.command('EHLO guess.test');
          return guesser;
        }),
      );
      const [first, ...rest] = guessers;
      if (!first) throw new Error('no guesser');
      expect((await first.command(`AUTH PLAIN ${plain(ALICE.username, 'wrong')}`)).code).toBe(535);
      const answers = await Promise.all(
        rest.map((guesser) => guesser.command(`AUTH PLAIN ${plain(ALICE.username, 'wrong')}`, 10_000)),
      );
      expect(answers.map((a) => a.code).sort()).toEqual([454, 535]);
      expect(answers.find((a) => a.code === 454)?.last).toBe(renderReply(replies.authTemporaryFailure));
      for (const guesser of guessers) guesser.close();
    } finally {
      await throttled.close();
    }
  });
});
