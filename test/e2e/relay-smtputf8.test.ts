import { afterEach, describe, expect, it } from 'vitest';
import { startMailwharf } from '../../src/index.js';
import { eventually, startRelay } from '../helpers/relay.js';
import { sendRaw, startSink } from '../helpers/smtp-sink.js';

/**
 * RFC 6531 outbound: mail that needs SMTPUTF8 goes only to a hop that offers it (and says
 * SMTPUTF8 there); otherwise it is returned with 5.6.7, as Postfix does. smtp-sink never
 * offers SMTPUTF8; mailwharf's own listener does.
 */
describe('relay and SMTPUTF8', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function relayTo(port: number) {
    const started = await startRelay(
      { type: 'smarthost', host: '127.0.0.1', port, tls: 'none' },
      { retry: { firstRetrySeconds: 3600, maxRetrySeconds: 3600 } },
    );
    cleanups.push(started.close);
    return started.relay;
  }

  it.each([
    ['a UTF-8 recipient', 'bøb@one.test', 'Subject: hello\r\n'],
    ['ASCII addresses and a UTF-8 header', 'bob@one.test', 'Subject: grüße\r\n'],
  ])('%s to a hop without SMTPUTF8: bounced 5.6.7, nothing delivered', async (_what, to, header) => {
    const sink = await startSink();
    cleanups.push(() => sink.stop());
    const relay = await relayTo(sink.port);
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'sender@relay.test',
      fromArgs: 'SMTPUTF8',
      to: [{ address: to }],
      message: Buffer.from(`${header}From: sender@relay.test\r\n\r\nbody\r\n`, 'utf8'),
    });
    // The DSN goes to the sender by the same smarthost: the only message the sink gets.
    const [dsn] = await sink.waitFor((m) => m.mailArgs.startsWith('<>'), 'the DSN');
    expect(dsn?.text).toMatch(/^Status: 5\.6\.7\r?$/m);
    expect(dsn?.text).toMatch(
      /^Diagnostic-Code: X-Mailwharf; SMTPUTF8 is required, but was not offered by host 127\.0\.0\.1\r?$/m,
    );
    expect(dsn?.text).toMatch(/^Remote-MTA: dns; 127\.0\.0\.1\r?$/m);
    expect((await sink.messages()).filter((m) => !m.mailArgs.startsWith('<>'))).toEqual([]);
    await eventually(
      async () => ((await relay.spool.list()).length === 0 ? true : undefined),
      'an empty queue',
    );
  });

  it('a UTF-8 domain only is sent as A-labels to a hop without SMTPUTF8 (no bounce)', async () => {
    const sink = await startSink();
    cleanups.push(() => sink.stop());
    const relay = await relayTo(sink.port);
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'sender@relay.test',
      fromArgs: 'SMTPUTF8',
      to: [{ address: 'bob@bücher.test' }],
      message: Buffer.from('Subject: hello\r\n\r\nbody\r\n'),
    });
    const [message] = await sink.waitFor((m) => m.mailArgs.startsWith('<sender'), 'the message');
    expect(message?.rcptArgs).toEqual(['<bob@xn--bcher-kva.test>']);
    expect(message?.mailArgs).not.toMatch(/SMTPUTF8/);
  });

  it('ASCII addresses and a UTF-8 header to a hop that offers SMTPUTF8: MAIL FROM says SMTPUTF8', async () => {
    const upstream = await startMailwharf();
    cleanups.push(() => upstream.stop());
    const relay = await relayTo(upstream.ports.smtp ?? 0);
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'alice@sender.test',
      fromArgs: 'SMTPUTF8',
      to: [{ address: 'bob@one.test' }],
      message: Buffer.from('Subject: smörgåsbord\r\n\r\nbody\r\n', 'utf8'),
    });
    const arrived = await upstream.waitForMessage({ subject: 'smörgåsbord' }, { timeout: 10_000 });
    expect(arrived.envelope.smtputf8).toBe(true);
  });

  it('UTF-8 addresses to a hop that offers SMTPUTF8: sent as they are, with SMTPUTF8', async () => {
    const upstream = await startMailwharf();
    cleanups.push(() => upstream.stop());
    const relay = await relayTo(upstream.ports.smtp ?? 0);
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'ålice@sender.test',
      fromArgs: 'SMTPUTF8',
      to: [{ address: 'bøb@one.test' }, { address: 'carol@one.test' }],
      message: Buffer.from('Subject: grüße\r\nFrom: ålice@sender.test\r\n\r\nbody\r\n', 'utf8'),
    });
    const arrived = await upstream.waitForMessage({ subject: 'grüße' }, { timeout: 10_000 });
    expect(arrived.envelope.smtputf8).toBe(true);
    expect(arrived.envelope.mailFrom).toBe('ålice@sender.test');
    expect(arrived.envelope.rcptTo.map((r) => r.address)).toEqual(['bøb@one.test', 'carol@one.test']);
  });
});
