import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReply, replies } from '../../src/smtp/replies.js';
import { ALICE, startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe, sendMessage } from '../helpers/smtp-probe.js';

const QUEUED = /^250 2\.0\.0 Ok: queued as ([0-9A-Z]{17})$/;

describe('RFC 5321 forms on the wire', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer();
  });
  afterAll(async () => {
    await mw.close();
  });

  async function untrusted(): Promise<SmtpProbe> {
    const probe = await SmtpProbe.connect(mw.port('smtp'), { localAddress: '127.0.0.2' });
    expect((await probe.read()).code).toBe(220);
    expect((await probe.command('EHLO outside.test')).code).toBe(250);
    return probe;
  }

  async function stored(reply: string): Promise<readonly string[]> {
    const id = QUEUED.exec(reply)?.[1];
    const envelope = (await mw.server.spool.list()).find((e) => e.id === id);
    return envelope?.rcptTo.map((r) => r.address) ?? [];
  }

  it('§4.5.1: RCPT TO:<postmaster> (unqualified) from anyone goes to the configured postmaster', async () => {
    const probe = await untrusted();
    const reply = await sendMessage(probe, 'someone@outside.test', ['postmaster'], 'Subject: pm\r\n\r\nhi');
    expect(reply.last).toMatch(QUEUED);
    // No postmaster: in the config, so postmaster@ the first accepted domain.
    expect(await stored(reply.last)).toEqual(['postmaster@local.test']);
    probe.close();
  });

  it('§4.1.2: a quoted local part with a space is accepted and kept as written', async () => {
    const probe = await untrusted();
    const reply = await sendMessage(
      probe,
      'someone@outside.test',
      ['"john smith"@local.test'],
      'Subject: q\r\n\r\nhi',
    );
    expect(reply.last).toMatch(QUEUED);
    expect(await stored(reply.last)).toEqual(['"john smith"@local.test']);
    probe.close();
  });

  it('a quoted local part with parameters after it keeps them', async () => {
    const probe = await untrusted();
    expect((await probe.command('MAIL FROM:<"x y"@outside.test> SIZE=100')).code).toBe(250);
    expect((await probe.command('RCPT TO:<"john smith"@local.test> NOTIFY=NEVER')).code).toBe(250);
    probe.close();
  });

  it('a broken quoted local part is still a syntax error', async () => {
    const probe = await untrusted();
    await probe.command('MAIL FROM:<someone@outside.test>');
    expect((await probe.command('RCPT TO:<"john smith@local.test>')).code).toBe(501);
    probe.close();
  });

  it('RFC 1870: a SIZE= of more digits than fit is over the limit (552), not a syntax error', async () => {
    const probe = await untrusted();
    expect((await probe.command(`MAIL FROM:<someone@outside.test> SIZE=${'9'.repeat(30)}`)).last).toBe(
      renderReply(replies.messageTooBigForSize),
    );
    expect((await probe.command('MAIL FROM:<someone@outside.test> SIZE=12x')).code).toBe(501);
    probe.close();
  });
});

describe('AUTH PLAIN authorization identity (RFC 4616)', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer();
  });
  afterAll(async () => {
    await mw.close();
  });

  async function secured(): Promise<SmtpProbe> {
    const probe = await SmtpProbe.connect(mw.port('submission'));
    await probe.read();
    await probe.command('EHLO client.test');
    expect((await probe.command('STARTTLS')).code).toBe(220);
    await probe.upgrade({ ca: mw.ca, servername: 'mx.test' });
    await probe.command('EHLO client.test');
    return probe;
  }

  const plain = (authzid: string, authcid: string, password: string): string =>
    Buffer.from(`${authzid}\0${authcid}\0${password}`).toString('base64');

  it('refuses an authzid other than the user with 535, even with the right password', async () => {
    const probe = await secured();
    expect(
      (await probe.command(`AUTH PLAIN ${plain('bob@local.test', ALICE.username, ALICE.password)}`)).last,
    ).toBe(renderReply(replies.authzidRefused));
    probe.close();
  });

  it('accepts an authzid equal to the user, and an empty one', async () => {
    for (const authzid of [ALICE.username, '']) {
      const probe = await secured();
      expect((await probe.command(`AUTH PLAIN ${plain(authzid, ALICE.username, ALICE.password)}`)).code).toBe(
        235,
      );
      probe.close();
    }
  });
});
