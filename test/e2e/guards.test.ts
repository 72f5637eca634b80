import { readFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReply, replies } from '../../src/smtp/replies.js';
import { policy, startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe, sendMessage } from '../helpers/smtp-probe.js';

/** Bytes that are a CR or LF not part of a CRLF pair. */
function bareLineEndings(bytes: string): string[] {
  return [...bytes.matchAll(/\r(?!\n)|(?<!\r)\n/g)].map((m) => JSON.stringify(m[0]));
}

describe('guards around smtp-server', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer();
  });
  afterAll(async () => {
    await mw.close();
  });

  async function greeted(listener = 'smtp'): Promise<SmtpProbe> {
    const probe = await SmtpProbe.connect(mw.port(listener));
    await probe.read();
    await probe.command('EHLO guards.test');
    return probe;
  }

  async function stored(id: string): Promise<string> {
    return readFile(mw.server.spool.messagePath(id), 'latin1');
  }

  it('STARTTLS command injection (CVE-2011-0411): pipelined cleartext is discarded', async () => {
    const probe = await greeted();
    // One write: STARTTLS and commands an attacker in the path appended in cleartext.
    probe.write('STARTTLS\r\nRSET\r\nMAIL FROM:<evil@attacker.test>\r\n');
    expect((await probe.read()).last).toBe('220 2.0.0 Ready to start TLS');
    await probe.upgrade({ ca: mw.ca, servername: 'localhost' });
    // Inside TLS the first reply is to our own EHLO: nothing injected was answered.
    const ehlo = await probe.command('EHLO guards.test');
    expect(ehlo.code).toBe(250);
    expect(ehlo.lines[0]).toMatch(/^250-mx\.test /);
    // And no transaction survived: RCPT without MAIL is a bad sequence.
    expect((await probe.command('RCPT TO:<b@local.test>')).last).toBe('503 5.5.1 Error: need MAIL command');
    probe.close();
  });

  // Each line: a sequence that some servers take as the end of DATA (SMTP smuggling, 2023).
  it.each([
    ['<LF>.<CR><LF>', '\n.\r\n'],
    ['<CR><LF>.<LF>', '\r\n.\n'],
    ['<CR>.<CR><LF>', '\r.\r\n'],
    ['<LF>.<LF>', '\n.\n'],
  ])('SMTP smuggling with %s: one message, no second one, no bare CR/LF stored', async (_name, fakeEnd) => {
    const before = (await mw.server.spool.list()).length;
    const probe = await greeted();
    await probe.command('MAIL FROM:<a@local.test>');
    await probe.command('RCPT TO:<b@local.test>');
    expect((await probe.command('DATA')).code).toBe(354);
    probe.write(
      `Subject: carrier\r\n\r\nfirst${fakeEnd}MAIL FROM:<smuggled@local.test>\r\nRCPT TO:<victim@local.test>\r\nDATA\r\n` +
        'Subject: smuggled\r\n\r\nsecond\r\n.\r\n',
    );
    const reply = await probe.read();
    expect(reply.last).toMatch(/^250 2\.0\.0 Ok: queued as /);
    // Whatever follows is answered as commands of a fresh transaction, not a new message.
    const listed = await mw.server.spool.list();
    expect(listed.length).toBe(before + 1);
    const id = /queued as (\w+)$/.exec(reply.last)?.[1] ?? '';
    expect(listed.some((e) => e.mailFrom === 'smuggled@local.test')).toBe(false);
    const bytes = await stored(id);
    expect(bareLineEndings(bytes)).toEqual([]);
    expect(bytes).toContain('Subject: smuggled');
    probe.close();
  });

  it('bare LF and CR are normalised to CRLF by default', async () => {
    const probe = await greeted();
    const reply = await sendMessage(
      probe,
      'a@local.test',
      ['b@local.test'],
      'Subject: bare\r\n\r\nline one\nline two\rline three',
    );
    const id = /queued as (\w+)$/.exec(reply.last)?.[1] ?? '';
    const bytes = await stored(id);
    expect(bytes.endsWith('line one\r\nline two\r\nline three\r\n')).toBe(true);
    expect(bareLineEndings(bytes)).toEqual([]);
    probe.close();
  });

  it('a HELO or address that tries to inject a header cannot', async () => {
    const probe = await SmtpProbe.connect(mw.port('smtp'));
    await probe.read();
    // smtp-server rejects control characters in HELO; what it lets through is sanitised.
    expect((await probe.command('EHLO evil.test)(X-Injected:1;')).code).toBe(250);
    const reply = await sendMessage(probe, 'a@local.test', ['b(x)@local.test'], 'Subject: trace\r\n\r\nx');
    const id = /queued as (\w+)$/.exec(reply.last)?.[1] ?? '';
    const bytes = await stored(id);
    const [received, ...rest] = bytes.split(/\r\n(?![\t])/);
    expect(received).toMatch(
      /^Received: from evil\.test\?\?x-injected:1\? \(\[127\.0\.0\.1\]\)\r\n\tby mx\.test /,
    );
    expect(received).toContain('for <b?x?@local.test>;');
    expect(rest[0]).toBe('Subject: trace');
    expect(bytes).not.toMatch(/^X-Injected/m);
    probe.close();
  });

  it('TLS 1.2 is the minimum: a TLS 1.1 client cannot connect, TLS 1.2 can', async () => {
    const attempt = (maxVersion: 'TLSv1.1' | 'TLSv1.2') =>
      new Promise<string>((resolve) => {
        const socket = tlsConnect(
          {
            host: '127.0.0.1',
            port: mw.port('submissions'),
            ca: mw.ca,
            servername: 'localhost',
            maxVersion,
            minVersion: 'TLSv1',
          },
          () => {
            resolve(socket.getProtocol() ?? 'none');
            socket.destroy();
          },
        );
        socket.once('error', (error: Error) => resolve(`error: ${error.message}`));
      });
    expect(await attempt('TLSv1.1')).toMatch(/^error: /);
    expect(await attempt('TLSv1.2')).toBe('TLSv1.2');
  });

  it('a plaintext client on the implicit-TLS port does not bring the server down', async () => {
    await new Promise<void>((resolve) => {
      const socket = netConnect(mw.port('submissions'), '127.0.0.1', () => {
        socket.write('EHLO plaintext.test\r\n');
      });
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
    });
    const probe = await SmtpProbe.connect(mw.port('submissions'), {
      tls: { ca: mw.ca, servername: 'localhost' },
    });
    expect((await probe.read()).code).toBe(220);
    probe.close();
  });

  it('every reply carries an enhanced status code', async () => {
    const probe = await SmtpProbe.connect(mw.port('smtp'));
    await probe.read();
    const ehlo = await probe.command('EHLO guards.test');
    expect(ehlo.lines).toEqual(
      expect.arrayContaining(['250-ENHANCEDSTATUSCODES', '250-DSN', '250-PIPELINING', '250-8BITMIME']),
    );
    expect((await probe.command('MAIL FROM:<a@local.test>')).last).toBe('250 2.1.0 Accepted');
    expect((await probe.command('RCPT TO:<b@local.test>')).last).toBe('250 2.1.5 Accepted');
    expect((await probe.command('NOOP')).last).toMatch(/^250 2\.0\.0 /);
    expect((await probe.command('FOO')).last).toMatch(/^500 5\.5\.2 /);
    expect((await probe.command('QUIT')).last).toMatch(/^221 2\.0\.0 /);
    probe.close();
  });
});

describe('bareLineEndings: reject', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer((raw) => {
      policy(raw, 'relay').bareLineEndings = 'reject';
    });
  });
  afterAll(async () => {
    await mw.close();
  });

  it('refuses a message with a bare LF (550 5.6.0) and keeps nothing; CRLF mail still passes', async () => {
    const probe = await SmtpProbe.connect(mw.port('smtp'));
    await probe.read();
    await probe.command('EHLO strict.test');
    expect(
      (await sendMessage(probe, 'a@local.test', ['b@local.test'], 'Subject: bare\r\n\r\none\ntwo')).last,
    ).toBe(renderReply(replies.bareLineEnding));
    expect(await mw.server.spool.list()).toEqual([]);
    expect(
      (await sendMessage(probe, 'a@local.test', ['b@local.test'], 'Subject: fine\r\n\r\none\r\ntwo')).code,
    ).toBe(250);
    probe.close();
  });
});
