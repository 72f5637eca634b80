// The parse of simple messages without mailparser's streams must give the summary mailparser's
// parse gives, field for field: a table of shapes, then generated messages compared with
// mailparser itself (both the ones the fast path reads and the ones it must hand over).
import { parseAddressHeader, simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { FOR_THE_INDEX } from '../../../src/sink/mail-parser.js';
import { parseSimple } from '../../../src/sink/simple-message.js';
import { summarize } from '../../../src/sink/summary.js';
import { testEnvelope } from '../../helpers/envelope.js';

/** Both summaries of `source`; `fast` is undefined where the fast path hands over. */
async function both(source: string) {
  const bytes = Buffer.from(source, 'latin1');
  const envelope = testEnvelope('A1B2C3D4E5', bytes.length, { state: 'captured' });
  const expected = summarize(envelope, await simpleParser(bytes, FOR_THE_INDEX));
  const simple = parseSimple(bytes, parseAddressHeader);
  return { expected, fast: simple ? summarize(envelope, simple) : undefined };
}

const smtpSource =
  'From: <load@bench.test>\r\nTo: <sink@bench.test>\r\nDate: Tue,  1 Dec 2026 01:18:44 +0000 (UTC)\r\n' +
  'Message-Id: <49a7.0003.0000@vm>\r\n\r\n' +
  Array.from({ length: 26 }, (_, i) => `${String((i + 1) % 10)}${'X'.repeat(77)}\r\n`).join('');

describe('parseSimple', () => {
  it.each([
    ['smtp-source', smtpSource],
    [
      'nodemailer, plain text',
      'Content-Type: text/plain; charset=utf-8\r\nFrom: "Ann Example" <ann@example.com>\r\nTo: bob@example.org, "Carl, Jr." <carl@example.org>\r\nSubject: Hello   there\r\nMessage-ID: <abc@example.com>\r\nContent-Transfer-Encoding: 7bit\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\r\nHi Bob,\r\n\r\n  see you.\r\n',
    ],
    ['folded subject', 'Subject: a\r\n  folded\r\n\tsubject\r\nFrom: x@y.test\r\n\r\nbody'],
    ['empty subject, then a second', 'Subject:\r\nSubject: second\r\nFrom: x@y.test\r\n\r\nb\r\n'],
    ['two To headers', 'To: a@x.test\r\nTo: B <b@x.test>\r\nCc: c@x.test\r\nCc: d@x.test\r\n\r\nb\r\n'],
    ['a group', 'To: friends: a@x.test, B <b@x.test>;, c@x.test\r\nFrom: x@y.test\r\n\r\nb\r\n'],
    ['comments and punycode', 'From: x@xn--bcher-kva.example (Comment)\r\nReply-To: r@y.test\r\n\r\nb\r\n'],
    ['X-Tags once', 'X-Tags: one, two ,, one\r\nFrom: x@y.test\r\n\r\nb'],
    ['X-Tags twice', 'X-Tags: one\r\nX-Tags: two\r\nFrom: x@y.test\r\n\r\nb'],
    ['message id without brackets', 'Message-ID: abc@x.test\r\n\r\nbody\r\n'],
    ['no body', 'From: x@y.test\r\nSubject: s\r\n\r\n'],
    [
      'uppercase type, quoted charset',
      'Content-Type: TEXT/Plain; charset="US-ASCII"\r\nContent-Transfer-Encoding: 8BIT\r\n\r\nb\r\n',
    ],
  ])('%s: the fast path reads it, and its summary is mailparser’s', async (_name, source) => {
    const { expected, fast } = await both(source);
    expect(fast).toEqual(expected);
  });

  it.each([
    ['an encoded word', 'Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\nb\r\n'],
    ['8-bit in the body', 'Subject: s\r\n\r\ncaf\u00e9\r\n'],
    ['8-bit in a header', 'Subject: caf\u00e9\r\n\r\nb\r\n'],
    ['quoted-printable', 'Content-Transfer-Encoding: quoted-printable\r\n\r\na=3Db\r\n'],
    ['base64', 'Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n'],
    ['HTML', 'Content-Type: text/html\r\n\r\n<p>b</p>\r\n'],
    ['multipart', 'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n'],
    ['format=flowed', 'Content-Type: text/plain; format=flowed\r\n\r\na \r\nb\r\n'],
    ['another charset', 'Content-Type: text/plain; charset=utf-16\r\n\r\nab\r\n'],
    ['an attachment disposition', 'Content-Disposition: attachment\r\n\r\nb\r\n'],
    ['an unreadable date', 'Date: yesterday\r\n\r\nb\r\n'],
    ['an mbox preamble', 'From someone Mon Nov 30 10:00:00 2026\r\nSubject: s\r\n\r\nb\r\n'],
    ['a line without a colon', 'Subject: s\r\nno colon here\r\n\r\nb\r\n'],
    ['a bare LF in the header', 'Subject: s\nFrom: x@y.test\r\n\r\nb\r\n'],
    ['no header', '\r\nbody\r\n'],
  ])('%s: handed to mailparser', async (_name, source) => {
    const { fast } = await both(source);
    expect(fast).toBeUndefined();
  });

  it('hands over a header block mailparser refuses: 63 KiB of short lines, each counted as 64 bytes', async () => {
    const source = Buffer.from(`Subject: a${'\r\n '.repeat(21000)}\r\n\r\nb\r\n`);
    await expect(simpleParser(source, FOR_THE_INDEX)).rejects.toThrow(/header size/);
    expect(parseSimple(source, parseAddressHeader)).toBeUndefined();
  });

  it('gives mailparser’s summary for 3,000 generated messages, and reads most of them itself', async () => {
    let seed = 20261201;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pick = <T>(items: readonly T[]): T => items[random(items.length)] as T;
    const names = [
      '',
      'Ann',
      '"Ann, Example"',
      'Bob Jr.',
      '"quoted \\" name"',
      'Zoë',
      '=?utf-8?q?Z=C3=B6e?=',
    ];
    const domains = ['x.test', 'example.com', 'xn--bcher-kva.example', 'sub.domain.org'];
    const mailbox = (): string => {
      const name = pick(names);
      const address = `${pick(['a', 'bob', 'c.d', 'e+tag'])}@${pick(domains)}`;
      return pick([
        address,
        `<${address}>`,
        name === '' ? address : `${name} <${address}>`,
        `${address} (c)`,
      ]);
    };
    const addressValue = (): string =>
      pick([
        () => mailbox(),
        () => `${mailbox()}, ${mailbox()}`,
        () => `team: ${mailbox()}, ${mailbox()};`,
        () => '',
        () => 'undisclosed-recipients:;',
      ])();
    const words = [
      'hello',
      'invoice',
      ' spaced  out ',
      'tab\there',
      'a:b',
      '(paren)',
      'x=?y',
      '=?utf-8?b?w6k=?=',
    ];
    const text = (): string =>
      Array.from({ length: 1 + random(4) }, () => pick(words)).join(pick([' ', '', '  ']));
    const fold = (value: string): string => (random(4) === 0 ? value.replace(' ', '\r\n ') : value);
    const headerMakers: (() => string)[] = [
      () => `From: ${fold(addressValue())}`,
      () => `To: ${fold(addressValue())}`,
      () => `Cc: ${addressValue()}`,
      () => `Bcc: ${addressValue()}`,
      () => `Reply-To: ${addressValue()}`,
      () => `Subject: ${fold(text())}`,
      () => `subject: ${text()}`,
      () => `Message-ID: ${pick(['<m1@x.test>', 'm2@x.test', '', '<m3@x.test', ' <m4@x.test> '])}`,
      () =>
        `Date: ${pick(['Mon, 30 Nov 2026 10:00:00 +0000', '30 Nov 2026 10:00 -0500', 'Tue,  1 Dec 2026 01:18:44 +0000 (UTC)', 'nonsense', ''])}`,
      () => `X-Tags: ${pick(['a, b', ' c ', '', 'd,,d'])}`,
      () =>
        `Content-Type: ${pick(['text/plain', 'text/plain; charset=utf-8', 'TEXT/PLAIN; charset="us-ascii"', 'text/html', 'text/plain; charset=iso-8859-1', 'text/plain; format=flowed'])}`,
      () => `Content-Transfer-Encoding: ${pick(['7bit', '8bit', 'quoted-printable', 'base64', 'BINARY'])}`,
      () => `MIME-Version: 1.0`,
      () => `X-Mailer: ${text()}`,
      () => 'Received: from a by b;\r\n\tMon, 30 Nov 2026 10:00:00 +0000',
    ];
    const bodies = [
      '',
      'one line',
      'line\r\n\r\nafter blank\r\n',
      '  leading spaces\r\n\ttab\r\n',
      `${'long '.repeat(200)}\r\n`,
      'bare\nlf\r\nmixed\r\n',
      'caf\u00e9\r\n',
      '=3D not decoded\r\n',
      'trailing spaces   \r\n\r\n\r\n',
      '\r\n',
      'bare\rcarriage return\r\n\r',
      'nul\u0000 and bell\u0007\r\n',
      '.\r\n..dots\r\n',
    ];
    let fastCount = 0;
    for (let i = 0; i < 3000; i++) {
      const headers = Array.from({ length: 1 + random(7) }, () => pick(headerMakers)());
      const source = `${headers.join('\r\n')}\r\n\r\n${pick(bodies)}`;
      const { expected, fast } = await both(source);
      if (fast === undefined) continue;
      fastCount++;
      expect(fast, source).toEqual(expected);
    }
    // The generator makes enough simple ones for the comparison to mean something.
    expect(fastCount).toBeGreaterThan(1000);
  });
});
