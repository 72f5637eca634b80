import { afterEach, describe, expect, it } from 'vitest';
import { limitsOf, startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe, sendMessage } from '../helpers/smtp-probe.js';

/**
 * limits.rate on the relay listener, spoken raw from untrusted loopback addresses: the
 * message past the per-minute limit gets 450 4.7.1 with the wait in its text; another
 * address is not affected; every message that got its 250 is in the spool.
 */
describe('intake rate limits (limits.rate)', () => {
  let mw: TestServer | undefined;
  afterEach(async () => {
    await mw?.close();
    mw = undefined;
  });

  async function session(from: string): Promise<SmtpProbe> {
    const probe = await SmtpProbe.connect(mw?.port('smtp') ?? 0, { localAddress: from });
    await probe.read();
    await probe.command('EHLO client.test');
    return probe;
  }

  it('refuses the third message in a minute from one address with 450 4.7.1, not another address', async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'relay').rate = { messagesPerMinute: 2 };
    });
    const probe = await session('127.0.0.5');
    for (let i = 0; i < 2; i++)
      expect(
        (await sendMessage(probe, 'a@outside.test', ['u@local.test'], `Subject: ${String(i)}\r\n\r\nx`)).last,
      ).toMatch(/^250 /);
    const refused = await probe.command('MAIL FROM:<a@outside.test>');
    expect(refused.last).toMatch(/^450 4\.7\.1 Too many messages from you; try again in (59|60) s$/);
    probe.close();

    const other = await session('127.0.0.6');
    expect(
      (await sendMessage(other, 'b@outside.test', ['u@local.test'], 'Subject: other\r\n\r\nx')).code,
    ).toBe(250);
    other.close();

    expect(await mw.server.spool.count()).toBe(3);
  });

  it('counts recipients per hour, and a trusted client is never limited', async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'relay').rate = { recipientsPerHour: 3 };
    });
    const probe = await session('127.0.0.7');
    await probe.command('MAIL FROM:<a@outside.test>');
    for (const rcpt of ['1@local.test', '2@local.test', '3@local.test'])
      expect((await probe.command(`RCPT TO:<${rcpt}>`)).code).toBe(250);
    expect((await probe.command('RCPT TO:<4@local.test>')).last).toMatch(
      /^450 4\.7\.1 Too many recipients from you; try again in \d+ s$/,
    );
    probe.close();

    // 127.0.0.1 is in the policy's trustedNetworks.
    const trusted = await session('127.0.0.1');
    await trusted.command('MAIL FROM:<t@local.test>');
    for (let i = 0; i < 6; i++)
      expect((await trusted.command(`RCPT TO:<${String(i)}@local.test>`)).code).toBe(250);
    trusted.close();
  });
});
