import { Readable } from 'node:stream';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { PIECE_BYTES } from '../../../src/delivery/line-pieces.js';
import {
  hasEightBit,
  planSevenBit,
  sevenBitSize,
  sevenBitStream,
  toSevenBit,
} from '../../../src/delivery/seven-bit.js';

const convert = (text: string) => toSevenBit(Buffer.from(text, 'utf8')).toString('latin1');

/** Decodes a quoted-printable body leniently (RFC 2045 §6.7): soft line breaks go, =XX (either case) is its byte. */
const decodeQp = (body: string): Buffer =>
  Buffer.from(
    body
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  );

/** The body of a one-part message, after its header. */
const bodyOf = (message: string): string => message.slice(message.indexOf('\r\n\r\n') + 4);

describe('toSevenBit (8BITMIME downgrade)', () => {
  it.each([
    // input, output, why
    ['Subject: a\r\n\r\nplain ascii\r\n', 'Subject: a\r\n\r\nplain ascii\r\n', 'nothing 8-bit: unchanged'],
    [
      'Subject: a\r\nContent-Transfer-Encoding: 8bit\r\n\r\nk\u00f6ln\r\n',
      'Subject: a\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nk=C3=B6ln\r\n',
      'an 8bit text: quoted-printable, the header replaced',
    ],
    [
      'Subject: a\r\n\r\nk\u00f6ln\r\n',
      'Subject: a\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nk=C3=B6ln\r\n',
      'no CTE header but 8-bit bytes: one is added',
    ],
    [
      'Subject: a\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n',
      'Subject: a\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n',
      'base64 is 7-bit already',
    ],
    [
      'Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nk\u00f6ln\r\n',
      'Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\nSubject: inner\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nk=C3=B6ln\r\n',
      'an attached message is converted inside, and labelled 7bit',
    ],
    [
      'Received: from a\r\n\tby b\r\nContent-Transfer-Encoding:\r\n 8bit\r\n\r\nk\u00f6ln\r\n',
      'Received: from a\r\n\tby b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nk=C3=B6ln\r\n',
      'folded fields stay folded (never a bare CR), and a folded CTE is replaced whole',
    ],
  ])('%j (%s)', (input, output, _why) => {
    expect(convert(input)).toBe(output);
  });

  it('a long 8-bit line gets soft line breaks within 76 characters', () => {
    const out = convert(`Subject: a\r\n\r\n${'\u00e9'.repeat(100)}\r\n`);
    const body = out.slice(out.indexOf('\r\n\r\n') + 4);
    for (const line of body.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
    expect(hasEightBit(Buffer.from(out, 'latin1'))).toBe(false);
  });

  it.each([
    // input, output, why
    [
      'Content-Type: multipart/mixed; boundary="b"\r\n\r\npre\r\n--b\r\nContent-Type: text/plain\r\n\r\nk\u00f6ln\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\nepi\r\n',
      'Content-Type: multipart/mixed; boundary="b"\r\n\r\npre\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nk=C3=B6ln\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\nepi\r\n',
      "in a multipart only the 8-bit part changes; the CRLF before a delimiter is the delimiter's",
    ],
    [
      'Content-Type: multipart/mixed; boundary=out\r\n\r\n--out\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n--in\r\n\r\nk\u00f6ln\r\n--out\r\n\r\nplain\r\n--out--\r\n',
      'Content-Type: multipart/mixed; boundary=out\r\n\r\n--out\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n--in\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nk=C3=B6ln\r\n--out\r\n\r\nplain\r\n--out--\r\n',
      'an outer delimiter ends the inner multipart that never closed',
    ],
    [
      'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nascii\r\n--b--\r\n\u00e9pilogue\r\n--b\r\n\r\nk\u00f6ln\r\n',
      'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nascii\r\n--b--\r\n??pilogue\r\n--b\r\n\r\nk??ln\r\n',
      'after the close delimiter all is epilogue, which no encoding applies to and readers ignore: "?" for each 8-bit byte',
    ],
    [
      'Content-Type: multipart/mixed; boundary=b\r\n\r\npr\u00e9amble\r\n--b \u00e9\r\n\r\nascii\r\n--b--\u00e9\r\n',
      'Content-Type: multipart/mixed; boundary=b\r\n\r\npr??amble\r\n--b ??\r\n\r\nascii\r\n--b--??\r\n',
      'the same in a preamble: a line with text after "--b" is no delimiter (RFC 2046 §5.1.1), so all of it is preamble',
    ],
    [
      'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\nAA\u00e9EC\r\n--b--\r\n',
      'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\nAA??EC\r\n--b--\r\n',
      'base64 with stray 8-bit bytes: "?" is outside its alphabet too, so it decodes the same (RFC 2045 §6.8)',
    ],
    [
      'Subject: a\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nk\u00f6ln =C3=A9\r\n',
      'Subject: a\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nk=C3=B6ln =C3=A9\r\n',
      'quoted-printable with raw 8-bit bytes: each becomes =XX, the byte a lenient decoder reads',
    ],
    [
      'Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\nk\u00f6ln stra\u00dfe\r\n',
      'Content-Type: multipart/mixed\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n--b\r\n\r\nk=C3=B6ln stra=C3=9Fe\r\n',
      'a multipart with no boundary has no parts, and clients show it as text: converted as a leaf, losslessly',
    ],
    [
      'Content-Type: message/rfc822\r\n\r\nSubject: \u00e9\r\n\r\nascii\r\n',
      'Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\nSubject: \u00e9\r\n\r\nascii\r\n',
      "an attached message with an 8-bit header only is labelled 7bit; its header stays (SMTPUTF8's business)",
    ],
  ])('%j (%s)', (input, output, _why) => {
    // Bytes left 8-bit compare as bytes.
    expect(convert(input)).toBe(Buffer.from(output, 'utf8').toString('latin1'));
  });

  it.each([
    // body (UTF-8 text, may hold raw 8-bit bytes), what a lenient decoder reads from it, why
    ['\u00e9'.repeat(490), '\u00e9'.repeat(490), 'a legal 980-byte line of raw 8-bit bytes'],
    [
      `${'a=C3=A9 '.repeat(20)}\u00e9 x=zz =c3=a9`,
      `${'a\u00e9 '.repeat(20)}\u00e9 x=zz \u00e9`,
      'escapes kept whole, a lone "=" kept as "="',
    ],
    [
      `${'\u00e9'.repeat(60)}=\r\nnext \u00e9  `,
      `${'\u00e9'.repeat(60)}next \u00e9`,
      'a soft break kept; trailing blanks dropped, as a decoder does',
    ],
    [
      `${'x'.repeat(70)}\u00e9=\r\n`,
      `${'x'.repeat(70)}\u00e9`,
      'a soft break at the very end of a full line',
    ],
  ])(
    'a body labelled quoted-printable with raw 8-bit bytes gets soft breaks: lines within 76, the same decoding (%#: %s)',
    (body, decoded, _why) => {
      const out = convert(`Subject: a\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${body}\r\n`);
      expect(hasEightBit(Buffer.from(out, 'latin1'))).toBe(false);
      for (const line of bodyOf(out).split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
      expect(decodeQp(bodyOf(out)).toString('utf8')).toBe(`${decoded}\r\n`);
    },
  );

  it('a quoted-printable line longer than a piece is masked across pieces, never splitting an "=XX"', () => {
    const line = `${'ab=C3=A9\u00e9'.repeat(Math.ceil((PIECE_BYTES * 2) / 11))}=`;
    const message = Buffer.from(
      `Content-Transfer-Encoding: quoted-printable\r\n\r\n${line}\r\nend\r\n`,
      'utf8',
    );
    const whole = toSevenBit(message).toString('latin1');
    for (const l of bodyOf(whole).split('\r\n')) expect(l.length).toBeLessThanOrEqual(76);
    expect(decodeQp(bodyOf(whole)).toString('utf8')).toBe(
      `${'ab\u00e9\u00e9'.repeat(Math.ceil((PIECE_BYTES * 2) / 11))}end\r\n`,
    );
  });

  it('the text of a multipart with no boundary decodes unchanged', () => {
    const out = convert('Content-Type: multipart/mixed\r\n\r\nk\u00f6ln stra\u00dfe\r\n');
    expect(decodeQp(bodyOf(out)).toString('utf8')).toBe('k\u00f6ln stra\u00dfe\r\n');
  });

  it('nothing 8-bit is left in a body nested deeper than the limit', () => {
    let message = 'k\u00f6ln\r\n';
    // Boundaries that are no prefix of one another ("b1" would be of "b12").
    for (let level = 120; level > 0; level--) {
      const boundary = `b${String(level)}x`;
      message = `Content-Type: multipart/mixed; boundary=${boundary}\r\n\r\n--${boundary}\r\n${message}--${boundary}--\r\n`;
    }
    const seven = toSevenBit(Buffer.from(`Subject: deep\r\n${message}`, 'utf8'));
    expect(hasEightBit(seven)).toBe(false);
    // The multipart at the limit is converted as a leaf: its body, nested parts and all, is
    // quoted-printable, and decodes to what it was.
    const text = seven.toString('latin1');
    const label = 'Content-Transfer-Encoding: quoted-printable\r\n\r\n';
    expect(text.split(label)).toHaveLength(2);
    const body = text.slice(text.indexOf(label) + label.length);
    expect(decodeQp(body).toString('utf8')).toContain('\r\n--b120x\r\nk\u00f6ln\r\n--b120x--\r\n');
  });

  it.each([
    ['a bare CR', 'one\rtwo \u00e9'],
    ['a bare LF', 'one\ntwo \u00e9'],
    ['LF CR, a space before each', 'one \n \rtwo \u00e9'],
    ['bare line endings at the ends of the line', '\n\u00e9\r'],
    ['CRs in a long line', `${'\u00e9\r'.repeat(200)}x`],
  ])(
    '%s in an 8-bit part is encoded (=0D, =0A), never sent raw, and decodes to the same bytes',
    (_why, line) => {
      const body = `${line}\r\nsecond line \u00e9\r\n`;
      const seven = toSevenBit(Buffer.from(`Subject: a\r\n\r\n${body}`, 'utf8')).toString('latin1');
      const out = seven.slice(seven.indexOf('\r\n\r\n') + 4);
      // Every CR and LF left is a CRLF, and every line is within 76 characters.
      expect(out.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
      for (const outLine of out.split('\r\n')) expect(outLine.length).toBeLessThanOrEqual(76);
      expect(decodeQp(out).equals(Buffer.from(body, 'utf8'))).toBe(true);
    },
  );

  it.each([
    ['a bare LF in a 7-bit line', 'one\ntwo', 'one\ntwo'],
    ['a bare CR in a 7-bit line', 'one\rtwo', 'one\rtwo'],
    ['bare line endings beside an 8-bit byte and an escape', '\r\u00e9=C3=A9\n', '\r\u00e9\u00e9\n'],
    ['a blank before a bare LF is data, not a trailing blank', 'one \ntwo', 'one \ntwo'],
    ['an "=" before a bare CR is a lone "="', 'a=\rb', 'a=\rb'],
    ['many bare LFs in a long line', `${'ab\n'.repeat(60)}x`, `${'ab\n'.repeat(60)}x`],
  ])(
    'in a body labelled quoted-printable, %s is encoded (=0D, =0A): CRLF line ends only, the same decoding',
    (_why, line, decoded) => {
      const out = convert(
        `Subject: a\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${line}\r\nsecond \u00e9\r\n`,
      );
      const body = bodyOf(out);
      expect(body.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
      expect(hasEightBit(Buffer.from(out, 'latin1'))).toBe(false);
      for (const outLine of body.split('\r\n')) expect(outLine.length).toBeLessThanOrEqual(76);
      expect(decodeQp(body).toString('utf8')).toBe(`${decoded}\r\nsecond \u00e9\r\n`);
    },
  );

  it('a line that only starts with a delimiter ("--b12" for "b1") is not one: the parts are as mailparser reads them', async () => {
    const message = Buffer.from(
      [
        'Subject: prefix',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary=b1',
        '',
        '--b1',
        'Content-Type: multipart/alternative; boundary=b12',
        '',
        '--b12',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
        '',
        'k\u00f6ln',
        '--b1x is text in this part, stra\u00dfe',
        '--b12--',
        'epilogue of b12, \u00e9',
        '--b1',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'zw\u00f6lf',
        '--b1--  ',
        '',
      ].join('\r\n'),
      'utf8',
    );
    const seven = toSevenBit(message);
    expect(hasEightBit(seven)).toBe(false);
    const text = seven.toString('latin1');
    expect(text).toContain('\r\nk=C3=B6ln\r\n--b1x is text in this part, stra=C3=9Fe\r\n--b12--\r\n');
    expect(text).toContain('\r\n--b12--\r\nepilogue of b12, ??\r\n--b1\r\n');
    const [before, after] = await Promise.all([simpleParser(message), simpleParser(seven)]);
    expect(after.text).toBe(before.text);
    expect(after.text).toContain('--b1x is text in this part, stra\u00dfe');
    expect(after.text).toContain('zw\u00f6lf');
  });

  /** A message with parts of each kind and a line longer than the pieces lines are read in. */
  const mixed = Buffer.from(
    'Subject: mixed\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="=_b"\r\n\r\n' +
      '--=_b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' +
      `Gr\u00fc\u00dfe aus K\u00f6ln \r\n${'\u00e4 ab'.repeat(PIECE_BYTES / 2)}\r\nend of text\r\n` +
      '--=_b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQ=\r\n' +
      '--=_b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: text/plain\r\n\r\nk\u00f6ln\r\n' +
      '--=_b--\r\n',
  );

  async function streamed(message: Buffer, chunkBytes: number) {
    const chunks = () =>
      Readable.from(
        Array.from({ length: Math.ceil(message.length / chunkBytes) }, (_, i) =>
          message.subarray(i * chunkBytes, (i + 1) * chunkBytes),
        ),
      );
    const parts = await planSevenBit(chunks());
    const out: Buffer[] = [];
    for await (const chunk of sevenBitStream(chunks(), parts)) out.push(chunk as Buffer);
    return { bytes: Buffer.concat(out), size: await sevenBitSize(chunks(), parts) };
  }

  it.each([61, 1000, PIECE_BYTES - 1, PIECE_BYTES + 1, 1 << 20])(
    'streamed in chunks of %i bytes: the same bytes as in memory, and the size counted',
    async (chunkBytes) => {
      const whole = toSevenBit(mixed);
      const { bytes, size } = await streamed(mixed, chunkBytes);
      expect(bytes.equals(whole)).toBe(true);
      expect(size).toBe(whole.length);
    },
  );

  it('the 7-bit form reads back as the same text and attachments, every line within 76 characters', async () => {
    const seven = toSevenBit(mixed);
    expect(hasEightBit(seven)).toBe(false);
    const [before, after] = await Promise.all([simpleParser(mixed), simpleParser(seven)]);
    expect(after.text).toBe(before.text);
    expect(after.attachments.map((a) => a.contentType)).toEqual(before.attachments.map((a) => a.contentType));
    expect(after.attachments[0]?.content.equals(before.attachments[0]?.content ?? Buffer.alloc(0))).toBe(
      true,
    );
    const body = seven.toString('latin1').slice(seven.indexOf('\r\n\r\n') + 4);
    for (const line of body.split('\r\n')) expect(line.length).toBeLessThanOrEqual(76);
  });
});
