import { storedBytes } from '../helpers/stored.js';
import { randomBytes } from 'node:crypto';
import { format } from 'node:util';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/spool/envelope.js';
import { ALICE, startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe } from '../helpers/smtp-probe.js';
import { QUEUED, queueIdOf } from '../helpers/queue-id.js';

/**
 * Byte-exact round trips: what a client means to send (before dot-stuffing) must be what
 * the spool holds after our Received header, to the byte. The message is built to hit
 * every transparency and 8-bit edge: lines starting with '.', '..', a line that is a
 * single dot, UTF-8 and Latin-1 bytes (BODY=8BITMIME), a line of exactly 998 octets and a
 * base64 attachment of random bytes.
 */

const CRLF = '\r\n';

/** The stored message without its first header field, our Received: (continued on tab-led lines). */
function withoutReceived(stored: Buffer): Buffer {
  expect(stored.subarray(0, 10).toString('latin1')).toBe('Received: ');
  let end = stored.indexOf(CRLF);
  while (end >= 0 && stored[end + 2] === 0x09) end = stored.indexOf(CRLF, end + 2);
  if (end < 0) throw new Error('unterminated Received header');
  return stored.subarray(end + 2);
}

/** Equal buffers, or a failure naming the first differing offset and the bytes around it. */
function expectSameBytes(actual: Buffer, expected: Buffer): void {
  if (actual.equals(expected)) return;
  let at = 0;
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++;
  const around = (b: Buffer): string =>
    JSON.stringify(b.subarray(Math.max(0, at - 40), at + 40).toString('latin1'));
  expect.fail(
    `bytes differ at offset ${at} (stored ${actual.length} bytes, sent ${expected.length}):\n` +
      `stored: ${around(actual)}\nsent:   ${around(expected)}`,
  );
}

/** RFC 5321 §4.5.2: on the wire, every line starting with '.' gets one more. */
function dotStuff(message: Buffer): Buffer {
  return Buffer.from(message.toString('latin1').replace(/^\./gm, '..'), 'latin1');
}

interface Tricky {
  readonly message: Buffer;
  readonly attachment: Buffer;
  readonly utf8Line: string;
  readonly latin1Line: string;
}

/** A multipart message with every edge case, CRLF throughout, as the exact bytes to send. */
function trickyMessage(label: string): Tricky {
  const attachment = randomBytes(4099);
  const boundary = `----=_mw_${randomBytes(6).toString('hex')}`;
  const utf8Line = 'UTF-8: Grüße, naïve café, Ελληνικά, 日本語, 🙂';
  const latin1Line = 'Latin-1: café, Straße, über, ½, ÿ';
  // 998 octets exactly, multi-byte UTF-8 included: 'é' is 2 octets.
  const prefix = 'The 998-octet line: éééé ';
  const longLine = prefix + 'x'.repeat(998 - Buffer.byteLength(prefix));
  const longLineBytes = Buffer.from(longLine, 'utf8');
  if (longLineBytes.length !== 998) throw new Error('long line is not 998 octets');

  const ascii = (lines: readonly string[]): Buffer =>
    Buffer.from(lines.map((l) => l + CRLF).join(''), 'latin1');
  const utf8 = (lines: readonly string[]): Buffer => Buffer.from(lines.map((l) => l + CRLF).join(''), 'utf8');
  const latin1 = (lines: readonly string[]): Buffer =>
    Buffer.from(lines.map((l) => l + CRLF).join(''), 'latin1');
  const base64Lines = attachment.toString('base64').match(/.{1,76}/g) ?? [];

  const message = Buffer.concat([
    ascii([
      'From: Alice <alice@local.test>',
      'To: Bob <bob@local.test>',
      `Subject: round trip ${label}`,
      'Date: Sun, 22 Nov 2026 22:30:12 +0000',
      `Message-ID: <${label}.${randomBytes(6).toString('hex')}@local.test>`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
      '',
      'This is a multi-part message in MIME format.',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Lines that need dot-stuffing follow.',
      '.one leading dot',
      '..two leading dots',
      '...three leading dots',
      '.',
      '..',
      ' . a dot after a space needs nothing',
    ]),
    utf8([utf8Line]),
    longLineBytes,
    ascii([
      '',
      '.',
      '.the line above is a single dot, and so is the one below',
      '.',
      `--${boundary}`,
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: 8bit',
      '',
    ]),
    latin1([latin1Line, '.é leading dot then a Latin-1 byte', '.']),
    ascii([
      `--${boundary}`,
      'Content-Type: application/octet-stream; name="random.bin"',
      'Content-Disposition: attachment; filename="random.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      ...base64Lines,
      `--${boundary}--`,
      '.',
    ]),
  ]);
  // Self-checks, so a change to this builder cannot quietly drop an edge case.
  const text = message.toString('latin1');
  expect(text).toMatch(/\r\n\.\r\n/);
  expect(text).toMatch(/\r\n\.\.[^.]/);
  expect(message.some((byte) => byte >= 0x80)).toBe(true);
  expect(message.includes(Buffer.from(latin1Line, 'latin1'))).toBe(true);
  expect(message.includes(Buffer.concat([Buffer.from(CRLF), longLineBytes, Buffer.from(CRLF)]))).toBe(true);
  expect(/\r(?!\n)|(?<!\r)\n/.test(text)).toBe(false); // no bare CR or LF
  return { message, attachment, utf8Line, latin1Line };
}

describe('byte-exact round trip', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer();
  });
  afterAll(async () => {
    await mw.close();
  });

  async function stored(id: string): Promise<{ envelope: Envelope; bytes: Buffer }> {
    const envelope = await mw.server.spool.envelope(id);
    if (!envelope) throw new Error(`queued as ${id} but no envelope in the spool`);
    const bytes = await storedBytes(mw.server.spool, id);
    expect(envelope.size).toBe(bytes.length);
    return { envelope, bytes };
  }

  async function expectParsed(bytes: Buffer, tricky: Tricky): Promise<void> {
    const parsed = await simpleParser(bytes);
    expect(parsed.attachments).toHaveLength(1);
    const [attachment] = parsed.attachments;
    expect(attachment?.filename).toBe('random.bin');
    expect(attachment?.content.equals(tricky.attachment)).toBe(true);
    expect(parsed.text).toContain(tricky.utf8Line);
    expect(parsed.text).toContain(tricky.latin1Line);
  }

  describe('raw socket', () => {
    /** One transaction on a probe already past EHLO; DATA bytes written in the given pieces. */
    async function transact(
      probe: SmtpProbe,
      from: string,
      pieces: readonly Buffer[],
      gapMs: number,
    ): Promise<string> {
      expect((await probe.command(`MAIL FROM:<${from}> BODY=8BITMIME`)).code).toBe(250);
      expect((await probe.command('RCPT TO:<bob@local.test>')).code).toBe(250);
      expect((await probe.command('DATA')).code).toBe(354);
      for (const piece of pieces) {
        probe.write(piece);
        if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
      }
      return (await probe.read(10_000)).last;
    }

    it('plaintext port 25 role, one write: stuffed on the wire, stored unstuffed and byte-exact', async () => {
      const tricky = trickyMessage('raw-one-write');
      const wire = Buffer.concat([dotStuff(tricky.message), Buffer.from(`.${CRLF}`)]);
      expect(wire.length).toBeGreaterThan(tricky.message.length + 3); // stuffing happened
      const probe = await SmtpProbe.connect(mw.port('smtp'));
      try {
        expect((await probe.read()).code).toBe(220);
        const ehlo = await probe.command('EHLO raw.test');
        expect(ehlo.lines).toContain('250-8BITMIME');
        const reply = await transact(probe, 'app@local.test', [wire], 0);
        expect(reply).toMatch(QUEUED);
        const { envelope, bytes } = await stored(queueIdOf(reply));
        expect(envelope.mailFrom).toBe('app@local.test');
        expect(envelope.rcptTo.map((r) => r.address)).toEqual(['bob@local.test']);
        expect(envelope.listener.name).toBe('smtp');
        expect(envelope.tls).toBeUndefined();
        expectSameBytes(withoutReceived(bytes), tricky.message);
        await expectParsed(bytes, tricky);
        expect((await probe.command('QUIT')).code).toBe(221);
      } finally {
        probe.close();
      }
    });

    it('STARTTLS (verified), DATA cut into pieces at every offset around each dot and the terminator', async () => {
      const tricky = trickyMessage('raw-pieces');
      const wire = Buffer.concat([dotStuff(tricky.message), Buffer.from(`.${CRLF}`)]);
      // Cut 3 bytes either side of every CRLF-dot, so escape dots and the terminator
      // straddle TLS records (and so reads) in every possible way.
      const cuts = new Set<number>();
      for (let at = wire.indexOf('\r\n.'); at >= 0; at = wire.indexOf('\r\n.', at + 1)) {
        for (let offset = -2; offset <= 4; offset++) {
          const cut = at + offset;
          if (cut > 0 && cut < wire.length) cuts.add(cut);
        }
      }
      const points = [0, ...[...cuts].sort((a, b) => a - b), wire.length];
      const pieces = points.slice(1).map((end, index) => wire.subarray(points[index], end));
      expect(Buffer.concat(pieces).equals(wire)).toBe(true);
      expect(pieces.length).toBeGreaterThan(50);

      const probe = await SmtpProbe.connect(mw.port('smtp'));
      try {
        expect((await probe.read()).code).toBe(220);
        await probe.command('EHLO raw.test');
        expect((await probe.command('STARTTLS')).code).toBe(220);
        const secure = await probe.upgrade({ ca: mw.ca, servername: 'localhost' });
        expect(secure.authorized).toBe(true);
        secure.setNoDelay(true);
        const ehlo = await probe.command('EHLO raw.test');
        expect(ehlo.lines).toContain('250-8BITMIME');
        const reply = await transact(probe, 'app@local.test', pieces, 2);
        expect(reply).toMatch(QUEUED);
        const { envelope, bytes } = await stored(queueIdOf(reply));
        expect(envelope.tls?.version).toBe(secure.getProtocol());
        expectSameBytes(withoutReceived(bytes), tricky.message);
        await expectParsed(bytes, tricky);
      } finally {
        probe.close();
      }
    });

    it('DATA whose first line is a single dot, sent stuffed ("..") in a segment of its own', async () => {
      // The library once took a lone "." left after stripping the escape dot of the first
      // line for the terminator; this must be content.
      const message = Buffer.from(
        `.${CRLF}.second line starts with a dot${CRLF}Subject: odd${CRLF}${CRLF}body${CRLF}`,
      );
      const wire = Buffer.concat([dotStuff(message), Buffer.from(`.${CRLF}`)]);
      const probe = await SmtpProbe.connect(mw.port('smtp'));
      try {
        await probe.read();
        await probe.command('EHLO raw.test');
        const reply = await transact(
          probe,
          'app@local.test',
          [wire.subarray(0, 2), wire.subarray(2, 4), wire.subarray(4)],
          20,
        );
        expect(reply).toMatch(QUEUED);
        const { bytes } = await stored(queueIdOf(reply));
        expectSameBytes(withoutReceived(bytes), message);
        // Nothing was left over to be read as a command.
        expect((await probe.command('NOOP')).code).toBe(250);
      } finally {
        probe.close();
      }
    });
  });

  describe('nodemailer', () => {
    /** Sends exact bytes with `raw:` over submission (STARTTLS, verified, AUTH); returns the reply and the MAIL command. */
    async function sendRaw(raw: Buffer): Promise<{ response: string; mailCommand: string | undefined }> {
      const commands: string[] = [];
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: mw.port('submission'),
        secure: false,
        requireTLS: true,
        auth: { user: ALICE.username, pass: ALICE.password },
        tls: { ca: mw.ca, servername: 'localhost' },
        connectionTimeout: 5_000,
        greetingTimeout: 5_000,
        socketTimeout: 10_000,
        transactionLog: true,
        logger: {
          debug(entry: { tnx?: string }, message: string, ...args: unknown[]) {
            if (entry.tnx === 'client') commands.push(format(message, ...args));
          },
        },
      });
      try {
        const info = await transport.sendMail({
          envelope: { from: ALICE.username, to: ['bob@local.test'], use8BitMime: true },
          raw,
        });
        return {
          response: info.response,
          mailCommand: commands.find((line) => line.startsWith('MAIL FROM:')),
        };
      } finally {
        transport.close();
      }
    }

    it('raw: the hand-built message, sent with BODY=8BITMIME, stored byte-exact', async () => {
      const tricky = trickyMessage('nodemailer-raw');
      const { response, mailCommand } = await sendRaw(tricky.message);
      expect(mailCommand).toBe(`MAIL FROM:<${ALICE.username}> BODY=8BITMIME`);
      expect(response).toMatch(QUEUED);
      const { envelope, bytes } = await stored(queueIdOf(response));
      expect(envelope.mailFrom).toBe(ALICE.username);
      expect(envelope.authUser).toBe(ALICE.username);
      expect(envelope.listener.name).toBe('submission');
      expectSameBytes(withoutReceived(bytes), tricky.message);
      await expectParsed(bytes, tricky);
    });

    it('MailComposer: a message nodemailer built itself (dot lines, UTF-8, attachment), stored byte-exact', async () => {
      const attachment = randomBytes(3001);
      const text = ['.leading dot', '..two', '.', 'Grüße 日本語', `${'y'.repeat(990)}.`, '.'].join('\n');
      const built = await new MailComposer({
        from: ALICE.username,
        to: 'bob@local.test',
        subject: 'Grüße via MailComposer',
        text,
        attachments: [{ filename: 'random.bin', content: attachment }],
        newline: 'win',
      })
        .compile()
        .build();
      expect(built.includes(Buffer.from('\r\n.'))).toBe(true); // something to stuff
      const { response } = await sendRaw(built);
      expect(response).toMatch(QUEUED);
      const { bytes } = await stored(queueIdOf(response));
      expectSameBytes(withoutReceived(bytes), built);
      const parsed = await simpleParser(bytes);
      expect(parsed.subject).toBe('Grüße via MailComposer');
      expect(parsed.text?.replace(/\n$/, '')).toBe(text);
      expect(parsed.attachments[0]?.content.equals(attachment)).toBe(true);
    });
  });
});
