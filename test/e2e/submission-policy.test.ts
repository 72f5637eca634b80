import { storedText } from '../helpers/stored.js';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReply, replies } from '../../src/smtp/replies.js';
import { ALICE, limitsOf, startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe, type Reply } from '../helpers/smtp-probe.js';

const base64 = (text: string): string => Buffer.from(text).toString('base64');
const plain = (user: string, password: string): string => base64(`\0${user}\0${password}`);
const QUEUED = /^250 2\.0\.0 Ok: queued as ([0-9A-Z]{17})$/;

/** The AUTH capability line of an EHLO reply, if any. */
const authLines = (ehlo: Reply): string[] => ehlo.lines.filter((line) => /^250[- ]AUTH\b/.test(line));

describe('submission (587) policy: STARTTLS, then AUTH, then only the user’s own senders', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'submission').authFailuresBeforeDisconnect = 2;
    });
  });
  afterAll(async () => {
    await mw.close();
  });

  async function greeted(listener = 'submission'): Promise<SmtpProbe> {
    const probe = await SmtpProbe.connect(mw.port(listener));
    expect((await probe.read()).code).toBe(220);
    return probe;
  }

  /** EHLO, STARTTLS, handshake (certificate verified), EHLO again. */
  async function secured(
    tls: ConnectionOptions = {},
  ): Promise<{ probe: SmtpProbe; socket: TLSSocket; ehlo: Reply }> {
    const probe = await greeted();
    expect((await probe.command('EHLO client.test')).code).toBe(250);
    expect((await probe.command('STARTTLS')).last).toBe('220 2.0.0 Ready to start TLS');
    const socket = await probe.upgrade({ ca: mw.ca, servername: 'localhost', ...tls });
    expect(socket.authorized).toBe(true);
    const ehlo = await probe.command('EHLO client.test');
    expect(ehlo.code).toBe(250);
    return { probe, socket, ehlo };
  }

  /** MAIL, RCPT, DATA and the end of DATA; returns the queue id from the 250. */
  async function submit(probe: SmtpProbe, from: string, to: string, body: string): Promise<string> {
    expect((await probe.command(`MAIL FROM:<${from}>`)).last).toBe('250 2.1.0 Accepted');
    expect((await probe.command(`RCPT TO:<${to}>`)).last).toBe('250 2.1.5 Accepted');
    expect((await probe.command('DATA')).code).toBe(354);
    probe.write(`${body}\r\n.\r\n`);
    const reply = await probe.read();
    const id = QUEUED.exec(reply.last)?.[1];
    if (id === undefined) throw new Error(`message not queued: ${reply.last}`);
    return id;
  }

  it('before TLS: EHLO offers STARTTLS but not AUTH, and AUTH is refused with 538 5.7.11', async () => {
    const probe = await greeted();
    const ehlo = await probe.command('EHLO client.test');
    expect(ehlo.lines).toContain('250-STARTTLS');
    expect(authLines(ehlo)).toEqual([]);
    const needsTls = '538 5.7.11 Encryption required for requested authentication mechanism';
    expect(renderReply(replies.authNeedsTls)).toBe(needsTls);
    expect((await probe.command(`AUTH PLAIN ${plain(ALICE.username, ALICE.password)}`)).last).toBe(needsTls);
    expect((await probe.command('AUTH LOGIN')).last).toBe(needsTls);
    // Refused in cleartext, so nothing was authenticated: MAIL still needs AUTH.
    expect((await probe.command(`MAIL FROM:<${ALICE.username}>`)).last).toBe(
      renderReply(replies.authRequired),
    );
    probe.close();
  });

  it('after STARTTLS: EHLO offers AUTH PLAIN LOGIN (and no more STARTTLS); MAIL before AUTH is 530 5.7.0', async () => {
    const { probe, ehlo } = await secured();
    expect(authLines(ehlo)).toEqual(['250-AUTH PLAIN LOGIN']);
    expect(ehlo.lines.some((line) => line.includes('STARTTLS'))).toBe(false);
    expect((await probe.command(`MAIL FROM:<${ALICE.username}>`)).last).toBe(
      '530 5.7.0 Authentication required',
    );
    expect(renderReply(replies.authRequired)).toBe('530 5.7.0 Authentication required');
    probe.close();
  });

  it('a wrong password is 535 5.7.8; at authFailuresBeforeDisconnect (2) it is 421 4.7.0 and the server hangs up', async () => {
    const { probe } = await secured();
    expect((await probe.command(`AUTH PLAIN ${plain(ALICE.username, 'wrong')}`)).last).toBe(
      renderReply(replies.authFailed),
    );
    expect(renderReply(replies.authFailed)).toMatch(/^535 5\.7\.8 /);
    // The second failure, through the other mechanism: failures are counted per connection.
    expect((await probe.command('AUTH LOGIN')).last).toBe('334 VXNlcm5hbWU6');
    expect((await probe.command(base64(ALICE.username))).last).toBe('334 UGFzc3dvcmQ6');
    const last = await probe.command(base64('wrong again'));
    expect(last.last).toBe(renderReply(replies.authTooManyFailures));
    expect(last.last).toMatch(/^421 4\.7\.0 /);
    await probe.closedByServer();
  });

  it('AUTH PLAIN with the right password is 235 2.7.0; a sender not owned is 553 5.7.1; the own one is queued', async () => {
    const { probe, socket } = await secured();
    expect((await probe.command(`AUTH PLAIN ${plain(ALICE.username, ALICE.password)}`)).last).toBe(
      '235 2.7.0 Authentication successful',
    );
    const notOwned = await probe.command('MAIL FROM:<boss@local.test>');
    expect(notOwned.last).toBe(renderReply(replies.senderNotOwned));
    expect(notOwned.last).toMatch(/^553 5\.7\.1 /);
    const before = await mw.server.spool.list();
    const id = await submit(probe, ALICE.username, 'friend@elsewhere.test', 'Subject: submitted\r\n\r\nhi');
    const added = (await mw.server.spool.list()).filter((e) => !before.some((b) => b.id === e.id));
    expect(added.map((e) => e.id)).toEqual([id]);
    const [envelope] = added;
    expect(envelope?.mailFrom).toBe(ALICE.username);
    expect(envelope?.rcptTo.map((r) => r.address)).toEqual(['friend@elsewhere.test']);
    expect(envelope?.authUser).toBe(ALICE.username);
    expect(envelope?.listener.name).toBe('submission');
    expect(envelope?.tls?.version.startsWith('TLSv1.')).toBe(true);
    expect(envelope?.tls?.version).toBe(socket.getProtocol());
    expect(envelope?.tls?.cipher).toBe(socket.getCipher().name);
    probe.close();
  });

  it('records the negotiated TLS protocol, not the oldest protocol of the cipher suite', async () => {
    // A TLS 1.2 session with a CBC suite that dates from TLS 1.0: getCipher().version
    // says "TLSv1.0", which would put a protocol the server refuses into the trace.
    const { probe, socket } = await secured({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' });
    expect(socket.getProtocol()).toBe('TLSv1.2');
    expect(socket.getCipher().version).toBe('TLSv1.0');
    expect((await probe.command(`AUTH PLAIN ${plain(ALICE.username, ALICE.password)}`)).code).toBe(235);
    const id = await submit(probe, ALICE.username, 'friend@elsewhere.test', 'Subject: cbc\r\n\r\nhi');
    const envelope = (await mw.server.spool.list()).find((e) => e.id === id);
    expect(envelope?.tls).toEqual({ version: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-SHA' });
    const stored = await storedText(mw.server.spool, id, 'latin1');
    expect(stored).toContain('\r\n\t(using TLSv1.2 with cipher ECDHE-ECDSA-AES128-SHA)\r\n');
    probe.close();
  });

  it('submissions (465, implicit TLS) offers AUTH from the first EHLO, with the same rules', async () => {
    const probe = await SmtpProbe.connect(mw.port('submissions'), {
      tls: { ca: mw.ca, servername: 'localhost', maxVersion: 'TLSv1.2' },
    });
    expect((await probe.read()).code).toBe(220);
    const ehlo = await probe.command('EHLO client.test');
    expect(authLines(ehlo)).toEqual(['250-AUTH PLAIN LOGIN']);
    expect(ehlo.lines.some((line) => line.includes('STARTTLS'))).toBe(false);
    expect((await probe.command(`MAIL FROM:<${ALICE.username}>`)).last).toBe(
      renderReply(replies.authRequired),
    );
    expect((await probe.command(`AUTH PLAIN ${plain(ALICE.username, ALICE.password)}`)).last).toBe(
      renderReply(replies.authSucceeded),
    );
    expect((await probe.command('MAIL FROM:<boss@local.test>')).last).toBe(
      renderReply(replies.senderNotOwned),
    );
    const id = await submit(probe, ALICE.username, 'friend@elsewhere.test', 'Subject: implicit\r\n\r\nhi');
    const envelope = (await mw.server.spool.list()).find((e) => e.id === id);
    expect(envelope?.authUser).toBe(ALICE.username);
    expect(envelope?.listener.name).toBe('submissions');
    expect(envelope?.tls?.version).toBe('TLSv1.2');
    probe.close();
  });

  it('alt-submission (2525) is the same policy on another port', async () => {
    const probe = await greeted('alt-submission');
    const ehlo = await probe.command('EHLO client.test');
    expect(ehlo.lines).toContain('250-STARTTLS');
    expect(authLines(ehlo)).toEqual([]);
    expect((await probe.command('AUTH LOGIN')).last).toBe(renderReply(replies.authNeedsTls));
    probe.close();
  });
});
