import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReply, replies } from '../../src/smtp/replies.js';
import { policy, startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe, sendMessage } from '../helpers/smtp-probe.js';

/**
 * Sender-specified routing on port 25 (trusted network: 127.0.0.1 only). Each of these names
 * our domain last, so a relay check by domain passes it; a next hop that honours the route
 * delivers to evil.example. Postfix: allow_untrusted_routing = no.
 */
const ROUTED = [
  'v%evil.example@local.test',
  'evil.example!v@local.test',
  '@evil.example:v@local.test',
  '@a.example,@evil.example:v@local.test',
  '"v@evil.example"@local.test',
  '"v%evil.example"@local.test',
  '"evil.example!v"@local.test',
];

describe('sender-specified routing from untrusted clients', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer();
  });
  afterAll(async () => {
    await mw.close();
  });

  async function transaction(localAddress: string): Promise<SmtpProbe> {
    const probe = await SmtpProbe.connect(mw.port('smtp'), { localAddress });
    expect((await probe.read()).code).toBe(220);
    expect((await probe.command('EHLO outside.test')).code).toBe(250);
    expect((await probe.command('MAIL FROM:<someone@outside.test>')).code).toBe(250);
    return probe;
  }

  it.each(ROUTED)('RCPT TO:<%s> from 127.0.0.2 is 550 5.7.1', async (recipient) => {
    const probe = await transaction('127.0.0.2');
    expect((await probe.command(`RCPT TO:<${recipient}>`)).last).toBe(renderReply(replies.routingDenied));
    // The plain address on the same transaction is still fine.
    expect((await probe.command('RCPT TO:<v@local.test>')).code).toBe(250);
    probe.close();
  });

  it('a trusted client may still route (Postfix: mynetworks is trusted)', async () => {
    const probe = await SmtpProbe.connect(mw.port('smtp'), { localAddress: '127.0.0.1' });
    await probe.read();
    await probe.command('EHLO app.test');
    const reply = await sendMessage(
      probe,
      'app@local.test',
      ['v%elsewhere.test@local.test'],
      'Subject: r\r\n\r\nhi',
    );
    expect(reply.code).toBe(250);
    probe.close();
  });
});

describe('allowUntrustedRouting: true', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer((raw) => {
      (policy(raw, 'relay').relay as Record<string, unknown>).allowUntrustedRouting = true;
    });
  });
  afterAll(async () => {
    await mw.close();
  });

  it('lets an untrusted client route to our domain, and still never relays', async () => {
    const probe = await SmtpProbe.connect(mw.port('smtp'), { localAddress: '127.0.0.2' });
    await probe.read();
    await probe.command('EHLO outside.test');
    await probe.command('MAIL FROM:<someone@outside.test>');
    expect((await probe.command('RCPT TO:<v%evil.example@local.test>')).code).toBe(250);
    expect((await probe.command('RCPT TO:<v%local.test@evil.example>')).last).toBe(
      renderReply(replies.relayDenied),
    );
    probe.close();
  });
});
