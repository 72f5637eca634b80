import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startMailwharf } from '../../src/index.js';
import { eventually, startRelay, submit } from '../helpers/relay.js';

/**
 * What an operator watches: a log line per recipient per attempt keyed by queue id (to,
 * relay, delay, dsn, status, as Postfix's), and delivery counters and queue gauges in /metrics.
 */
describe('relay metrics and delivery log', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('delivered, deferred and bounced are logged per recipient and counted; the queue is measured', async () => {
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
      reply: { code: 451, enhanced: '4.2.1', text: 'Try later' },
    });
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n'))
          if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const started = await startRelay(
      { type: 'smarthost', host: '127.0.0.1', port: upstream.ports.smtp, tls: 'none' },
      {
        retry: { firstRetrySeconds: 3600, maxRetrySeconds: 3600 },
        extra: { http: { enabled: true, port: 0, host: '127.0.0.1' } },
        logger: pino({ level: 'info' }, sink),
      },
    );
    cleanups.push(started.close);
    await submit(started.relay, {
      from: 'sender@relay.test',
      to: ['ok@one.test', 'gone@one.test', 'slow@one.test'],
      subject: 'Counted',
    });
    const [queued] = await started.relay.spool.list();
    const id = queued?.id ?? '';
    const attempt = await eventually(() => {
      const found = lines.filter((l) => l.queueId === id && typeof l.status === 'string');
      return found.length === 3 ? found : undefined;
    }, 'three attempt lines');
    expect(attempt.map((l) => [l.to, l.relay, l.dsn, l.status])).toEqual([
      ['ok@one.test', '127.0.0.1', '2.0.0', 'sent'],
      ['gone@one.test', '127.0.0.1', '5.1.1', 'bounced'],
      ['slow@one.test', '127.0.0.1', '4.2.1', 'deferred'],
    ]);
    for (const line of attempt) {
      expect(line.delay).toEqual(expect.any(Number));
      // Postfix's delays=a/b/c/d: before the queue manager, in it, connection setup, transmission.
      expect(line.delays).toMatch(/^\d+(\.\d+)?(\/\d+(\.\d+)?){3}$/);
      const parts = String(line.delays).split('/').map(Number);
      const sum = parts.reduce((a, b) => a + b, 0);
      // Each part rounded to 0.01 s; together they are the time up to the end of the transaction.
      expect(sum).toBeLessThanOrEqual(Number(line.delay) + 0.03);
    }
    // One transaction carried all three recipients: one connection setup and one transmission.
    expect(new Set(attempt.map((l) => l.delays)).size).toBe(1);
    expect(attempt[1]?.msg).toBe('bounced (550 5.1.1 No such user)');

    // The DSN to the sender is delivered too.
    await upstream.waitForMessage({ recipient: 'sender@relay.test' }, { timeout: 10_000 });
    const metrics = await eventually(async () => {
      const text = await (await fetch(`http://127.0.0.1:${String(started.relay.ports.http)}/metrics`)).text();
      // The DSN's removal follows its delivery line: wait for both.
      return /^mailwharf_delivery_recipients_total\{status="delivered"\} 2$/m.test(text) &&
        /^mailwharf_queue_messages 1$/m.test(text)
        ? text
        : undefined;
    }, 'two deliveries counted and one message left');
    expect(metrics).toMatch(/^mailwharf_delivery_recipients_total\{status="deferred"\} 1$/m);
    expect(metrics).toMatch(/^mailwharf_delivery_recipients_total\{status="bounced"\} 1$/m);
    expect(metrics).toMatch(/^mailwharf_queue_messages 1$/m);
    const age = Number(/^mailwharf_queue_oldest_age_seconds (\S+)$/m.exec(metrics)?.[1]);
    expect(age).toBeGreaterThan(0);
    expect(age).toBeLessThan(60);
  });
});
