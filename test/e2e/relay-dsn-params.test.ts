import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/relay.js';
import { sendRaw, startRelayToSink } from '../helpers/smtp-sink.js';

/**
 * RFC 3461 outbound, against Postfix's smtp-sink: each recipient's NOTIFY and ORCPT reach a
 * next hop that does DSN; to one that does not (smtp-sink -N), a NOTIFY=SUCCESS sender gets a
 * "relayed" DSN from us, as from Postfix.
 */
describe('relay passes NOTIFY and ORCPT on', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const relayToSink = (flags: string[]) => startRelayToSink(flags, cleanups);

  const message = Buffer.from('Subject: dsn\r\nFrom: sender@relay.test\r\n\r\nbody\r\n');

  it('each recipient keeps its own NOTIFY and ORCPT; RET and ENVID stay on MAIL FROM', async () => {
    const { sink, relay } = await relayToSink([]);
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'sender@relay.test',
      fromArgs: 'RET=HDRS ENVID=env42',
      to: [
        { address: 'one@x.test', args: 'NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig@x.test' },
        { address: 'two@x.test', args: 'NOTIFY=NEVER' },
        { address: 'three@x.test' },
      ],
      message,
    });
    const [arrived] = await sink.waitFor(() => true, 'the message');
    expect(arrived?.mailArgs).toBe('<sender@relay.test> RET=HDRS ENVID=env42');
    expect(arrived?.rcptArgs).toEqual([
      '<one@x.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig@x.test',
      '<two@x.test> NOTIFY=NEVER',
      '<three@x.test>',
    ]);
    await eventually(
      async () => ((await relay.spool.list()).length === 0 ? true : undefined),
      'an empty queue',
    );
    // The hop does DSN: success is its to report, not ours.
    expect(await sink.messages()).toHaveLength(1);
  });

  it('NOTIFY=SUCCESS to a hop without DSN: a "relayed" DSN to the sender, for that recipient only', async () => {
    const { sink, relay } = await relayToSink(['-N']);
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'sender@relay.test',
      to: [
        { address: 'told@x.test', args: 'NOTIFY=SUCCESS ORCPT=rfc822;orig@x.test' },
        { address: 'quiet@x.test' },
      ],
      message,
    });
    const [dsn] = await sink.waitFor((m) => m.mailArgs.startsWith('<>'), 'the relayed DSN');
    const [original] = await sink.waitFor((m) => m.mailArgs.startsWith('<sender'), 'the message');
    // No DSN parameters to a hop that did not offer DSN.
    expect(original?.rcptArgs).toEqual(['<told@x.test>', '<quiet@x.test>']);
    expect(dsn?.rcptArgs).toEqual(['<sender@relay.test>']);
    expect(dsn?.text).toMatch(/^Subject: Successful Mail Delivery Report\r?$/m);
    expect(dsn?.text).toMatch(/^Final-Recipient: rfc822; told@x\.test\r?$/m);
    expect(dsn?.text).toMatch(/^Original-Recipient: rfc822;orig@x\.test\r?$/m);
    expect(dsn?.text).toMatch(/^Action: relayed\r?$/m);
    expect(dsn?.text).toMatch(/^Status: 2\.0\.0\r?$/m);
    expect(dsn?.text).toMatch(/^Remote-MTA: dns; 127\.0\.0\.1\r?$/m);
    expect(dsn?.text).not.toMatch(/quiet@x\.test/);
  });
});
