import { storedText } from '../helpers/stored.js';
import { readdir, readFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  connect as tlsConnect,
  createServer as createTlsServer,
  type ConnectionOptions,
  type SecureVersion,
  type TLSSocket,
} from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReply, replies } from '../../src/smtp/replies.js';
import { ALICE, policy, startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe, sendMessage, type Reply } from '../helpers/smtp-probe.js';
import { QUEUED, queueIdOf } from '../helpers/queue-id.js';

/** Every CR or LF that is not part of a CRLF pair, for a readable failure. */
function bareLineEndings(bytes: string): string[] {
  return [...bytes.matchAll(/\r(?!\n)|(?<!\r)\n/g)].map(
    (m) => `${JSON.stringify(m[0])} at ${String(m.index)}`,
  );
}

/**
 * Everything a socket receives, byte for byte. SmtpProbe drops what is buffered when it
 * upgrades, and the STARTTLS injection test must see exactly that.
 */
class Wire {
  private text = '';
  private closed = false;
  private wake: (() => void) | undefined;
  private readonly onData = (chunk: Buffer): void => {
    this.text += chunk.toString('latin1');
    this.wake?.();
  };

  constructor(readonly socket: Socket | TLSSocket) {
    socket.on('data', this.onData);
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  /** All bytes received, once they end with a complete final reply line ("ddd text\r\n"). */
  async replies(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!/(?:^|\r\n)\d{3}(?: [^\r\n]*)?\r\n$/.test(this.text)) {
      if (this.closed) throw new Error(`closed; received ${JSON.stringify(this.text)}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no complete reply in ${String(timeoutMs)} ms: ${JSON.stringify(this.text)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const all = this.text;
    this.text = '';
    return all;
  }

  /** Stops reading, so the next reader (a TLS socket) gets every later byte. */
  detach(): void {
    this.socket.removeListener('data', this.onData);
  }
}

function connectPlain(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** A TLS handshake and nothing else: the protocol agreed, or the error. */
function handshake(port: number, options: ConnectionOptions): Promise<{ protocol?: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ...options }, () => {
      resolve({ protocol: socket.getProtocol() ?? 'unknown' });
      socket.destroy();
    });
    socket.once('error', (error: Error) => resolve({ error: error.message }));
  });
}

describe('guards around smtp-server (default policies)', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer();
  });
  afterAll(async () => {
    await mw.close();
  });

  async function greeted(listener = 'smtp'): Promise<SmtpProbe> {
    const probe = await SmtpProbe.connect(mw.port(listener));
    expect((await probe.read()).code).toBe(220);
    expect((await probe.command('EHLO guards.test')).code).toBe(250);
    return probe;
  }

  const stored = (id: string): Promise<string> => storedText(mw.server.spool, id, 'latin1');

  it('(a) STARTTLS command injection (CVE-2011-0411): cleartext pipelined after STARTTLS is never answered', async () => {
    const plain = await connectPlain(mw.port('smtp'));
    const wire = new Wire(plain);
    expect(await wire.replies()).toMatch(/^220 mx\.test ESMTP mailwharf\r\n$/);
    plain.write('EHLO guards.test\r\n');
    expect(await wire.replies()).toContain('250-STARTTLS\r\n');
    // One write: STARTTLS, and what an attacker in the path appended in cleartext.
    plain.write('STARTTLS\r\nRSET\r\nMAIL FROM:<evil@x>\r\n');
    // Exactly the 220, and nothing for RSET or MAIL in cleartext (anything arriving
    // later in cleartext would break the handshake below).
    expect(await wire.replies()).toBe('220 2.0.0 Ready to start TLS\r\n');
    wire.detach();
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const socket = tlsConnect({ socket: plain, ca: mw.ca, servername: 'localhost' }, () => resolve(socket));
      socket.once('error', reject);
    });
    expect(secure.authorized).toBe(true);
    const inside = new Wire(secure);
    // Inside TLS the very next reply is the one to our EHLO: nothing injected was answered.
    secure.write('EHLO guards.test\r\n');
    const ehlo = (await inside.replies()).split('\r\n').slice(0, -1);
    expect(ehlo[0]).toMatch(/^250-mx\.test /);
    expect(ehlo.every((line) => /^250[- ]/.test(line))).toBe(true);
    expect(ehlo.at(-1)).toMatch(/^250 [A-Z0-9]/);
    // And no transaction leaked into TLS: RCPT without MAIL is a bad sequence.
    secure.write('RCPT TO:<bob@local.test>\r\n');
    expect(await inside.replies()).toBe('503 5.5.1 Error: need MAIL command\r\n');
    secure.write('QUIT\r\n');
    expect(await inside.replies()).toMatch(/^221 2\.0\.0 /);
    secure.destroy();
  });

  // Sequences some servers take as the end of DATA (SMTP smuggling, 2023).
  it.each([
    ['<LF>.<CR><LF>', '\n.\r\n'],
    ['<CR><LF>.<LF>', '\r\n.\n'],
    ['<CR>.<CR><LF>', '\r.\r\n'],
    ['<LF>.<LF>', '\n.\n'],
  ])('(b) SMTP smuggling with %s: exactly one message, no bare CR or LF stored', async (_name, fakeEnd) => {
    const before = await mw.server.spool.count();
    const probe = await greeted();
    expect((await probe.command('MAIL FROM:<carrier@local.test>')).code).toBe(250);
    expect((await probe.command('RCPT TO:<bob@local.test>')).code).toBe(250);
    expect((await probe.command('DATA')).code).toBe(354);
    probe.write(
      `Subject: carrier\r\n\r\nfirst${fakeEnd}` +
        'MAIL FROM:<smuggled@x>\r\nRCPT TO:<bob@local.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n' +
        '\r\n.\r\n',
    );
    const first = await probe.read();
    const id = queueIdOf(first.last);
    // Whatever the server made of the rest is answered before the reply to this NOOP.
    probe.write('NOOP\r\n');
    const after: string[] = [];
    for (;;) {
      const reply = await probe.read();
      if (reply.last === '250 2.0.0 OK') break;
      after.push(reply.last);
    }
    // No second transaction: no 354, no second "queued" (the leftovers are not commands).
    expect(after.filter((line) => /^(?:250|354) /.test(line))).toEqual([]);
    expect(await mw.server.spool.count()).toBe(before + 1);
    const envelope = await mw.server.spool.envelope(id);
    expect(envelope?.mailFrom).toBe('carrier@local.test');
    expect((await mw.server.spool.list()).some((e) => e.mailFrom === 'smuggled@x')).toBe(false);
    const bytes = await stored(id);
    expect(bareLineEndings(bytes)).toEqual([]);
    // The would-be second message is inert content of the first.
    expect(bytes).toContain(
      '\r\nMAIL FROM:<smuggled@x>\r\nRCPT TO:<bob@local.test>\r\nDATA\r\nSubject: smuggled\r\n',
    );
    probe.close();
  });

  it('(c) bare LF and bare CR are stored normalised to CRLF by default', async () => {
    const probe = await greeted();
    const reply = await sendMessage(
      probe,
      'a@local.test',
      ['b@local.test'],
      'Subject: bare\nX-Other: yes\r\n\r\nline one\nline two\rline three\r\n\nafter an empty line',
    );
    const bytes = await stored(queueIdOf(reply.last));
    expect(bareLineEndings(bytes)).toEqual([]);
    expect(bytes).toContain(
      '\r\nSubject: bare\r\nX-Other: yes\r\n\r\nline one\r\nline two\r\nline three\r\n\r\nafter an empty line\r\n',
    );
    probe.close();
  });

  it('(d) a HELO or address with odd characters cannot add a header line or fake a hop', async () => {
    // What smtp-server refuses outright: a bare CR or a space in the EHLO argument.
    const refused = await SmtpProbe.connect(mw.port('smtp'));
    await refused.read();
    expect((await refused.command('EHLO evil.test\rX-Injected: yes')).code).toBe(501);
    expect((await refused.command('EHLO evil.test X-Injected: yes')).code).toBe(501);
    expect((await refused.command('HELO evil.test\tX-Injected: yes')).code).toBe(501);
    refused.close();

    // What it lets through is sanitised where it enters the Received header.
    const probe = await SmtpProbe.connect(mw.port('smtp'));
    await probe.read();
    expect((await probe.command('EHLO evil.test)(X-Injected:1;')).code).toBe(250);
    const reply = await sendMessage(
      probe,
      'a(b);c@local.test',
      ['x(y);z@local.test'],
      'Subject: trace\r\nFrom: a@local.test\r\n\r\nbody',
    );
    const bytes = await stored(queueIdOf(reply.last));
    const header = bytes.slice(0, bytes.indexOf('\r\n\r\n')).split('\r\n');
    const clientStart = header.indexOf('Subject: trace');
    expect(clientStart).toBeGreaterThan(0);
    const received = header.slice(0, clientStart);
    // Exactly one Received header, every continuation line folded with a tab,
    // then the client's own header fields as sent.
    expect(received[0]).toBe('Received: from evil.test??x-injected:1? ([127.0.0.1])');
    expect(received.slice(1).every((line) => line.startsWith('\t'))).toBe(true);
    expect(received.at(-1)).toMatch(
      /^\tfor <x\?y\?\?z@local\.test>; \w{3}, \d{2} \w{3} \d{4} [\d:]{8} \+0000$/,
    );
    expect(header.slice(clientStart)).toEqual(['Subject: trace', 'From: a@local.test']);
    expect(header.filter((line) => /^received:/i.test(line))).toHaveLength(1);
    expect(header.filter((line) => /^x-injected/i.test(line))).toEqual([]);
    probe.close();
  });

  it('(e) TLS 1.2 is the minimum: a client that can speak TLS 1.1 is refused for the version; TLS 1.2 works', async () => {
    // OpenSSL 3 refuses TLS 1.1 at its default security level on its own; lower it on
    // the client, so that a failure below can only be the server refusing the version.
    const tls11: ConnectionOptions = {
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT:@SECLEVEL=0',
      rejectUnauthorized: false,
    };
    // Control: the same client does complete TLS 1.1 with a server that allows it.
    const key = await readFile(join(mw.root, 'certs', 'mx.test.selfsigned.key'));
    const lenient = createTlsServer(
      { key, cert: mw.ca, minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' },
      (socket) => socket.end(),
    );
    await new Promise<void>((resolve) => lenient.listen(0, '127.0.0.1', resolve));
    const address = lenient.address();
    const lenientPort = typeof address === 'object' && address ? address.port : 0;
    try {
      expect(await handshake(lenientPort, tls11)).toEqual({ protocol: 'TLSv1.1' });
    } finally {
      await new Promise<void>((resolve) => lenient.close(() => resolve()));
    }

    const refused = await handshake(mw.port('submissions'), tls11);
    expect(refused.protocol).toBeUndefined();
    expect(refused.error).toMatch(/alert protocol version/);
    const verified = { ca: mw.ca, servername: 'localhost' };
    expect(await handshake(mw.port('submissions'), { ...verified, maxVersion: 'TLSv1.2' })).toEqual({
      protocol: 'TLSv1.2',
    });
    expect(await handshake(mw.port('submissions'), verified)).toEqual({ protocol: 'TLSv1.3' });
  });

  it('(f) a plaintext client on the implicit-TLS port does not bring the server down', async () => {
    const socket = await connectPlain(mw.port('submissions'));
    socket.on('error', () => undefined);
    socket.write('EHLO plaintext.test\r\n');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('server did not drop the plaintext client in 5 s')),
        5000,
      );
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    // Still serving, on that port and the others.
    const probe = await SmtpProbe.connect(mw.port('submissions'), {
      tls: { ca: mw.ca, servername: 'localhost' },
    });
    expect((await probe.read()).code).toBe(220);
    expect((await probe.command('EHLO after.test')).code).toBe(250);
    probe.close();
    const other = await SmtpProbe.connect(mw.port('smtp'));
    expect((await other.read()).code).toBe(220);
    other.close();
  });

  it('(g) EHLO lists ENHANCEDSTATUSCODES and DSN, and MAIL is "250 2.1.0 Accepted"', async () => {
    const probe = await SmtpProbe.connect(mw.port('smtp'));
    await probe.read();
    const ehlo = await probe.command('EHLO guards.test');
    expect(ehlo.lines).toEqual(expect.arrayContaining(['250-ENHANCEDSTATUSCODES', '250-DSN']));
    expect((await probe.command('MAIL FROM:<a@local.test>')).last).toBe('250 2.1.0 Accepted');
    probe.close();
  });

  it('(g) every reply after the greeting, EHLO and 3xx carries an enhanced code of its own class', async () => {
    const seen: { command: string; reply: Reply }[] = [];
    const run = async (probe: SmtpProbe, command: string, write?: string): Promise<Reply> => {
      const reply =
        write === undefined ? await probe.command(command) : (probe.write(write), await probe.read());
      seen.push({ command, reply });
      return reply;
    };

    // Port 25 from an untrusted address, through most of what a client can get wrong.
    const relay = await SmtpProbe.connect(mw.port('smtp'), { localAddress: '127.0.0.2' });
    await relay.read();
    for (const command of ['MAIL FROM:<a@outside.test>', 'FOO', 'HELP', 'NOOP', 'VRFY bob@local.test']) {
      await run(relay, command);
    }
    expect((await relay.command('EHLO outside.test')).code).toBe(250);
    for (const command of [
      'RCPT TO:<b@local.test>',
      'DATA',
      'MAIL FROM:<a@outside.test> SIZE=999999999',
      'MAIL FROM:<broken',
      'MAIL FROM:<a@outside.test>',
      'MAIL FROM:<a@outside.test>',
      'RCPT TO:<victim@elsewhere.test>',
      'RCPT TO:<b@local.test>',
      'AUTH PLAIN AGFAYgBj',
      'STARTTLS now',
      'DATA',
    ]) {
      await run(relay, command);
    }
    expect((await run(relay, '<end of DATA>', 'Subject: codes\r\n\r\nx\r\n.\r\n')).last).toMatch(QUEUED);
    await run(relay, 'RSET');
    await run(relay, 'QUIT');
    relay.close();

    // The submission port: before TLS, then inside it.
    const submission = await SmtpProbe.connect(mw.port('submission'));
    await submission.read();
    await submission.command('EHLO client.test');
    await run(submission, 'AUTH LOGIN');
    await run(submission, 'MAIL FROM:<alice@local.test>');
    await run(submission, 'STARTTLS');
    await submission.upgrade({ ca: mw.ca, servername: 'localhost' });
    await submission.command('EHLO client.test');
    await run(submission, 'MAIL FROM:<alice@local.test>');
    await run(submission, 'AUTH PLAIN AGFsaWNlQGxvY2FsLnRlc3QAd3Jvbmc=');
    await run(submission, 'AUTH LOGIN');
    await run(submission, '*');
    await run(
      submission,
      `AUTH PLAIN ${Buffer.from(`\0${ALICE.username}\0${ALICE.password}`).toString('base64')}`,
    );
    await run(submission, 'MAIL FROM:<boss@local.test>');
    await run(submission, 'QUIT');
    submission.close();

    const codes = new Set(seen.map((s) => s.reply.code));
    // The walk did meet every class it is meant to check.
    for (const code of [214, 221, 235, 250, 252, 354, 334, 500, 501, 503, 530, 535, 538, 552, 553, 554]) {
      expect(codes.has(code), `reply code ${String(code)} seen`).toBe(true);
    }
    const missing = seen
      .filter(({ reply }) => reply.code < 300 || reply.code >= 400)
      .flatMap(({ command, reply }) =>
        reply.lines
          .filter(
            (line) =>
              !new RegExp(
                `^${String(reply.code)}[ -]${String(reply.code)[0] ?? ''}\\.\\d{1,3}\\.\\d{1,3} `,
              ).test(line),
          )
          .map((line) => `${command} -> ${line}`),
      );
    expect(missing).toEqual([]);
    // 3xx continuations carry none (RFC 2034 §3; a 334 carries only base64, RFC 4954).
    for (const { reply } of seen.filter((s) => s.reply.code >= 300 && s.reply.code < 400)) {
      expect(reply.last).not.toMatch(/^\d{3} \d\.\d{1,3}\.\d{1,3} /);
    }
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

  it('(c) refuses a message with a bare LF or a bare CR: 550 5.6.0, nothing stored; CRLF mail still passes', async () => {
    const probe = await SmtpProbe.connect(mw.port('smtp'));
    await probe.read();
    await probe.command('EHLO strict.test');
    for (const body of ['Subject: bare\r\n\r\none\ntwo', 'Subject: bare\r\n\r\none\rtwo']) {
      const reply = await sendMessage(probe, 'a@local.test', ['b@local.test'], body);
      expect(reply.last).toBe('550 5.6.0 Bare CR or LF in message; use CRLF line endings');
      expect(reply.last).toBe(renderReply(replies.bareLineEnding));
    }
    // Checked before anything is committed: the delivery worker stages state files in tmp/.
    expect(await mw.server.spool.list()).toEqual([]);
    expect(await readdir(mw.server.spool.tmpDir)).toEqual([]);
    const fine = await sendMessage(
      probe,
      'a@local.test',
      ['b@local.test'],
      'Subject: fine\r\n\r\none\r\ntwo',
    );
    expect(fine.last).toMatch(QUEUED);
    expect(await mw.server.spool.count()).toBe(1);
    probe.close();
  });
});

describe('tls.minVersion: TLSv1.3', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer((raw) => {
      (raw.tls as Record<string, unknown>).minVersion = 'TLSv1.3';
    });
  });
  afterAll(async () => {
    await mw.close();
  });

  it.each([
    ['submissions (implicit)', 'submissions'],
    ['submission (STARTTLS)', 'submission'],
  ])('(e) %s refuses TLS 1.2 for the version and accepts TLS 1.3', async (_name, listener) => {
    const attempt = async (maxVersion: SecureVersion): Promise<{ protocol?: string; error?: string }> => {
      if (listener === 'submissions') {
        return handshake(mw.port(listener), { ca: mw.ca, servername: 'localhost', maxVersion });
      }
      const probe = await SmtpProbe.connect(mw.port(listener));
      try {
        await probe.read();
        await probe.command('EHLO client.test');
        expect((await probe.command('STARTTLS')).code).toBe(220);
        const secure = await probe.upgrade({ ca: mw.ca, servername: 'localhost', maxVersion });
        return { protocol: secure.getProtocol() ?? 'unknown' };
      } catch (error) {
        return { error: error instanceof Error ? error.message : String(error) };
      } finally {
        probe.close();
      }
    };
    const old = await attempt('TLSv1.2');
    expect(old.protocol).toBeUndefined();
    expect(old.error).toMatch(/alert protocol version/);
    expect(await attempt('TLSv1.3')).toEqual({ protocol: 'TLSv1.3' });
  });
});
