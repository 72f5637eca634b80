import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReply, replies } from '../../src/smtp/replies.js';
import { ALICE, policy, startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe, sendMessage } from '../helpers/smtp-probe.js';

const QUEUED = /^250 2\.0\.0 Ok: queued as [0-9A-Z]{17}$/;
/** The bound the issue sets: a correctness bound, not a speed measurement. */
const BOUND_MS = 5000;

/**
 * Port 25 with the default limits (200 sessions, 20 per client) under the lock-out of the
 * issue: 20 idle connections from each of 10 addresses and one client dribbling a byte a
 * second into DATA. Trusted and authenticated clients must still get their mail in.
 */
describe('port 25 cannot be locked by idle strangers', () => {
  let mw: TestServer;
  const held: SmtpProbe[] = [];
  let dribble: NodeJS.Timeout | undefined;
  beforeAll(async () => {
    mw = await startTestServer((raw) => {
      // AUTH offered on 25 after STARTTLS, so an authenticated client can come this way too.
      policy(raw, 'relay').auth = 'optional';
      (policy(raw, 'relay').relay as Record<string, unknown>).authenticated = true;
    });
  });
  afterAll(async () => {
    clearInterval(dribble);
    for (const probe of held) probe.close();
    await mw.close();
  });

  it('a trusted and an authenticated client get their 250 within 5 s; the dribble is cut', async () => {
    const port = mw.port('smtp');

    const slow = await SmtpProbe.connect(port, { localAddress: '127.0.0.20' });
    held.push(slow);
    expect((await slow.read()).code).toBe(220);
    await slow.command('EHLO slow.test');
    await slow.command('MAIL FROM:<slow@outside.test>');
    await slow.command('RCPT TO:<bob@local.test>');
    expect((await slow.command('DATA')).code).toBe(354);
    const dataStarted = Date.now();
    // The attacker's pace, not a wait of the test: one byte a second keeps an idle timer fresh.
    dribble = setInterval(() => {
      slow.write('x');
    }, 1000);

    const greetings = await Promise.all(
      Array.from({ length: 200 }, async (_, n) => {
        const probe = await SmtpProbe.connect(port, { localAddress: `127.0.0.${String(10 + (n % 10))}` });
        held.push(probe);
        return (await probe.read(20_000)).code;
      }),
    );
    // Every idle connection was let in (some later closed to make room for others) or refused.
    expect(greetings.every((code) => code === 220 || code === 421)).toBe(true);

    const trusted = async (): Promise<number> => {
      const started = Date.now();
      const probe = await SmtpProbe.connect(port, { localAddress: '127.0.0.1' });
      held.push(probe);
      expect((await probe.read()).code).toBe(220);
      await probe.command('EHLO app.test');
      const reply = await sendMessage(
        probe,
        'app@local.test',
        ['someone@elsewhere.test'],
        'Subject: t\r\n\r\nhi',
      );
      expect(reply.last).toMatch(QUEUED);
      return Date.now() - started;
    };
    const authenticated = async (): Promise<number> => {
      const started = Date.now();
      const probe = await SmtpProbe.connect(port, { localAddress: '127.0.0.40' });
      held.push(probe);
      expect((await probe.read()).code).toBe(220);
      await probe.command('EHLO laptop.test');
      expect((await probe.command('STARTTLS')).code).toBe(220);
      await probe.upgrade({ ca: mw.ca, servername: 'mx.test' });
      await probe.command('EHLO laptop.test');
      const token = Buffer.from(`\0${ALICE.username}\0${ALICE.password}`).toString('base64');
      expect((await probe.command(`AUTH PLAIN ${token}`)).code).toBe(235);
      const reply = await sendMessage(
        probe,
        ALICE.username,
        ['someone@elsewhere.test'],
        'Subject: a\r\n\r\nhi',
      );
      expect(reply.last).toMatch(QUEUED);
      return Date.now() - started;
    };
    const [trustedMs, authenticatedMs] = await Promise.all([trusted(), authenticated()]);
    console.info(
      `lock-out: trusted client 250 after ${String(trustedMs)} ms, authenticated ${String(authenticatedMs)} ms`,
    );
    expect(trustedMs).toBeLessThan(BOUND_MS);
    expect(authenticatedMs).toBeLessThan(BOUND_MS);

    // Under stress the dribble may take 10 s plus its bytes at 500 B/s, then it is cut.
    const cut = await slow.read(30_000);
    expect(cut.last).toBe(renderReply(replies.dataTooSlow));
    console.info(`lock-out: DATA dribble cut after ${String(Date.now() - dataStarted)} ms`);
    await slow.closedByServer();
  }, 60_000);
});

describe('a balancer connection that never sends its PROXY line', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer((raw) => {
      const [smtp] = raw.listeners as Record<string, unknown>[];
      if (smtp) smtp.proxyFrom = ['127.0.0.5'];
    });
  });
  afterAll(async () => {
    await mw.close();
  });

  it('is closed after proxyTimeoutSeconds (5, as Postfix), not the 300 s idle timeout', async () => {
    const started = Date.now();
    const probe = await SmtpProbe.connect(mw.port('smtp'), { localAddress: '127.0.0.5' });
    await probe.closedByServer(30_000);
    const ms = Date.now() - started;
    console.info(`silent balancer connection closed after ${String(ms)} ms`);
    expect(ms).toBeGreaterThanOrEqual(4500);
  }, 40_000);
});
