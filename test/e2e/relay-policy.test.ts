import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReply, replies } from '../../src/smtp/replies.js';
import { startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe, sendMessage } from '../helpers/smtp-probe.js';

describe('port 25 relay policy (trusted network 127.0.0.1/32 only)', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer();
  });
  afterAll(async () => {
    await mw.close();
  });

  it('does not offer AUTH', async () => {
    const probe = await SmtpProbe.connect(mw.port('smtp'));
    expect((await probe.read()).code).toBe(220);
    const ehlo = await probe.command('EHLO client.test');
    expect(ehlo.lines.some((l) => l.includes('AUTH'))).toBe(false);
    expect(ehlo.lines).toContain('250-STARTTLS');
    expect((await probe.command('AUTH PLAIN AGFsaWNlAHg=')).last).toBe(renderReply(replies.authNotOffered));
    probe.close();
  });

  it('accepts mail for an accepted domain from an untrusted client', async () => {
    const probe = await SmtpProbe.connect(mw.port('smtp'), { localAddress: '127.0.0.2' });
    await probe.read();
    await probe.command('EHLO outside.test');
    const reply = await sendMessage(
      probe,
      'someone@outside.test',
      ['bob@local.test'],
      'Subject: in\r\n\r\nhi',
    );
    expect(reply.last).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-Z]{17}$/);
    probe.close();
  });

  it('refuses to relay for an untrusted client with 554 5.7.1', async () => {
    const probe = await SmtpProbe.connect(mw.port('smtp'), { localAddress: '127.0.0.2' });
    await probe.read();
    await probe.command('EHLO outside.test');
    expect((await probe.command('MAIL FROM:<someone@outside.test>')).code).toBe(250);
    expect((await probe.command('RCPT TO:<victim@elsewhere.test>')).last).toBe(
      '554 5.7.1 Relay access denied',
    );
    probe.close();
  });

  it('relays for a client in the trusted network', async () => {
    const probe = await SmtpProbe.connect(mw.port('smtp'), { localAddress: '127.0.0.1' });
    await probe.read();
    await probe.command('EHLO app.test');
    const reply = await sendMessage(
      probe,
      'app@local.test',
      ['someone@elsewhere.test'],
      'Subject: out\r\n\r\nhi',
    );
    expect(reply.code).toBe(250);
    const [envelope] = (await mw.server.spool.list()).filter(
      (e) => e.rcptTo[0]?.address === 'someone@elsewhere.test',
    );
    expect(envelope?.client.address).toBe('127.0.0.1');
    expect(envelope?.state).toBe('queued');
    probe.close();
  });
});
