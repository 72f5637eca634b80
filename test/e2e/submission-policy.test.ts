import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReply, replies } from '../../src/smtp/replies.js';
import { ALICE, limitsOf, startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe, sendMessage } from '../helpers/smtp-probe.js';

const plain = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`).toString('base64');

describe('submission (587) policy: TLS, then AUTH, then own senders', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'submission').authFailuresBeforeDisconnect = 2;
    });
  });
  afterAll(async () => {
    await mw.close();
  });

  async function secured(listener = 'submission'): Promise<SmtpProbe> {
    const probe = await SmtpProbe.connect(mw.port(listener));
    await probe.read();
    await probe.command('EHLO client.test');
    expect((await probe.command('STARTTLS')).code).toBe(220);
    await probe.upgrade({ ca: mw.ca, servername: 'localhost' });
    return probe;
  }

  it('before TLS: STARTTLS offered, AUTH neither offered nor accepted (538 5.7.11)', async () => {
    const probe = await SmtpProbe.connect(mw.port('submission'));
    await probe.read();
    const ehlo = await probe.command('EHLO client.test');
    expect(ehlo.lines).toContain('250-STARTTLS');
    expect(ehlo.lines.some((line) => line.includes('AUTH'))).toBe(false);
    expect(ehlo.lines).toContain('250-ENHANCEDSTATUSCODES');
    expect((await probe.command(`AUTH PLAIN ${plain(ALICE.username, ALICE.password)}`)).last).toBe(
      '538 5.7.11 Encryption required for requested authentication mechanism',
    );
    expect((await probe.command('MAIL FROM:<alice@local.test>')).last).toBe(
      '530 5.7.0 Authentication required',
    );
    probe.close();
  });

  it('after TLS: AUTH offered; MAIL before AUTH is 530 5.7.0', async () => {
    const probe = await secured();
    const ehlo = await probe.command('EHLO client.test');
    expect(ehlo.lines).toContain('250-AUTH PLAIN LOGIN');
    expect(ehlo.lines.some((line) => line.includes('STARTTLS'))).toBe(false);
    expect((await probe.command('MAIL FROM:<alice@local.test>')).last).toBe(
      renderReply(replies.authRequired),
    );
    probe.close();
  });

  it('wrong credentials: 535 5.7.8, and at the limit 421 4.7.0 and the connection closes', async () => {
    const probe = await secured();
    await probe.command('EHLO client.test');
    expect((await probe.command(`AUTH PLAIN ${plain(ALICE.username, 'wrong')}`)).last).toBe(
      renderReply(replies.authFailed),
    );
    expect((await probe.command(`AUTH PLAIN ${plain(ALICE.username, 'wrong again')}`)).last).toBe(
      renderReply(replies.authTooManyFailures),
    );
    await probe.closedByServer();
  });

  it('good credentials: 235 2.7.0; own sender accepted and queued; another sender 553 5.7.1', async () => {
    const probe = await secured();
    await probe.command('EHLO client.test');
    expect((await probe.command(`AUTH PLAIN ${plain(ALICE.username, ALICE.password)}`)).last).toBe(
      '235 2.7.0 Authentication successful',
    );
    expect((await probe.command('MAIL FROM:<boss@local.test>')).last).toBe(
      renderReply(replies.senderNotOwned),
    );
    const reply = await sendMessage(
      probe,
      ALICE.username,
      ['friend@elsewhere.test'],
      'Subject: submitted\r\n\r\nhi',
    );
    const id = /queued as ([0-9A-Z]{17})$/.exec(reply.last)?.[1] ?? '';
    const envelope = await mw.server.spool.envelope(id);
    expect(envelope?.authUser).toBe(ALICE.username);
    expect(envelope?.tls?.version).toMatch(/^TLSv1\.[23]$/);
    expect(envelope?.listener.name).toBe('submission');
    probe.close();
  });

  it('implicit TLS (465): AUTH offered from the first EHLO; same rules', async () => {
    const probe = await SmtpProbe.connect(mw.port('submissions'), {
      tls: { ca: mw.ca, servername: 'localhost' },
    });
    expect((await probe.read()).code).toBe(220);
    const ehlo = await probe.command('EHLO client.test');
    expect(ehlo.lines).toContain('250-AUTH PLAIN LOGIN');
    expect((await probe.command('MAIL FROM:<alice@local.test>')).last).toBe(
      renderReply(replies.authRequired),
    );
    probe.close();
  });

  it('alt-submission (2525) is the same policy on another port', async () => {
    const probe = await SmtpProbe.connect(mw.port('alt-submission'));
    await probe.read();
    const ehlo = await probe.command('EHLO client.test');
    expect(ehlo.lines.some((line) => line.includes('AUTH'))).toBe(false);
    expect((await probe.command('AUTH LOGIN')).last).toBe(renderReply(replies.authNeedsTls));
    probe.close();
  });
});
