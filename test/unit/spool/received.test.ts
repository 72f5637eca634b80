import { describe, expect, it } from 'vitest';
import { headerSafe, receivedHeader, rfc5322Date, type ReceivedFacts } from '../../../src/spool/received.js';

const base: ReceivedFacts = {
  helo: 'client.example',
  clientAddress: '192.0.2.7',
  serverName: 'mx.example',
  queueId: '0MWSF89GCAQP4Q8F3',
  esmtp: true,
  tls: undefined,
  authenticated: false,
  recipients: ['one@example.org'],
  date: new Date('2026-11-22T22:30:12Z'),
};
const tls13 = { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' };
const injection = '\r\nX-Injected: 1';

/** The header's lines without the CRLF that ends the last one. */
function lines(header: string): string[] {
  expect(header.endsWith('\r\n')).toBe(true);
  return header.slice(0, -2).split('\r\n');
}

describe('receivedHeader (RFC 5321 §4.4)', () => {
  it('has from, by, with, id, for and the date, folded with tabs, ending in CRLF', () => {
    expect(receivedHeader(base)).toBe(
      'Received: from client.example ([192.0.2.7])\r\n' +
        '\tby mx.example (mailwharf) with ESMTP id 0MWSF89GCAQP4Q8F3\r\n' +
        '\tfor <one@example.org>; Sun, 22 Nov 2026 22:30:12 +0000\r\n',
    );
  });

  it('under TLS, says which version and cipher in a comment', () => {
    expect(receivedHeader({ ...base, tls: tls13 })).toBe(
      'Received: from client.example ([192.0.2.7])\r\n' +
        '\tby mx.example (mailwharf) with ESMTPS id 0MWSF89GCAQP4Q8F3\r\n' +
        '\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\r\n' +
        '\tfor <one@example.org>; Sun, 22 Nov 2026 22:30:12 +0000\r\n',
    );
  });

  it.each([
    // facts, protocol, why
    [{}, 'ESMTP', 'EHLO, plain text, no AUTH'],
    [{ esmtp: false }, 'SMTP', 'HELO'],
    [{ tls: tls13 }, 'ESMTPS', 'RFC 3848: S for TLS'],
    [{ authenticated: true }, 'ESMTPA', 'RFC 3848: A for AUTH'],
    [{ tls: tls13, authenticated: true }, 'ESMTPSA', 'RFC 3848: both'],
    [{ esmtp: false, tls: tls13 }, 'SMTP', 'RFC 3848 defines no S variant of plain SMTP'],
  ] as const)('%j -> with %s (%s)', (facts, protocol, _why) => {
    expect(receivedHeader({ ...base, ...facts })).toContain(` with ${protocol} id `);
  });

  it.each([
    // recipients, why
    [[], 'no recipient (not reached in practice, but well-formed)'],
    [['a@example.org', 'b@example.org'], 'several: naming one would leak it to the others'],
  ] as const)('names no recipient for %j: %s', (recipients, _why) => {
    const header = receivedHeader({ ...base, recipients });
    expect(header).not.toContain('for ');
    expect(header).not.toContain('example.org');
    expect(lines(header).at(-1)).toBe(
      '\tby mx.example (mailwharf) with ESMTP id 0MWSF89GCAQP4Q8F3; Sun, 22 Nov 2026 22:30:12 +0000',
    );
  });

  it('without a recipient under TLS, the date follows the TLS comment', () => {
    const header = receivedHeader({ ...base, tls: tls13, recipients: ['a@x', 'b@x'] });
    expect(lines(header).at(-1)).toBe(
      '\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384); Sun, 22 Nov 2026 22:30:12 +0000',
    );
  });

  it('an empty HELO is written as unknown', () => {
    expect(receivedHeader({ ...base, helo: '' })).toMatch(/^Received: from unknown \(\[192\.0\.2\.7\]\)\r\n/);
  });

  it.each([
    // client address, as written, why
    ['2001:db8::7', '([IPv6:2001:db8::7])', 'an IPv6 address literal is tagged (RFC 5321 §4.1.3)'],
    ['::1', '([IPv6:::1])', 'loopback too'],
    ['::ffff:192.0.2.7', '([192.0.2.7])', 'an IPv4 client on a dual-stack socket is an IPv4 literal'],
    ['192.0.2.7', '([192.0.2.7])', 'IPv4 as it is'],
  ])('client %s is written %s (%s)', (clientAddress, written, _why) => {
    expect(receivedHeader({ ...base, clientAddress })).toContain(written);
  });

  it.each([
    // field given injected text, why
    [{ helo: `evil${injection}` }, 'HELO is the client’s choice'],
    [{ helo: `x)${injection} (` }, 'HELO trying to close the comment first'],
    [{ recipients: [`a>;${injection}@x`] }, 'the one recipient is the client’s choice'],
    [{ clientAddress: `192.0.2.7]${injection}` }, 'a PROXY header’s address'],
    [{ serverName: `mx${injection}` }, 'configuration'],
    [{ tls: { version: `TLSv1.3${injection}`, cipher: `x)${injection}` } }, 'TLS details'],
  ] as const)('%j cannot form a header line (%s)', (facts, _why) => {
    const header = receivedHeader({ ...base, ...facts });
    const [first, ...rest] = lines(header);
    expect(first).toMatch(/^Received: from /);
    // Every further line is a continuation: nothing can start a field of its own.
    for (const line of rest) expect(line).toMatch(/^\t/);
    expect(header).not.toMatch(/^X-Injected/m);
    expect(header.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    // One semicolon, before the date: no field can be ended early.
    expect(header.split(';')).toHaveLength(2);
    // Comments stay balanced, so nothing escapes one.
    expect(header.split('(').length).toBe(header.split(')').length);
  });

  it('the id is written as given (queue ids are [0-9A-Z] by construction)', () => {
    expect(receivedHeader({ ...base, queueId: '0000000000000000Z' })).toContain(' id 0000000000000000Z\r\n');
  });
});

describe('headerSafe', () => {
  it.each([
    // input, output, why
    ['plain.example', 'plain.example', 'a host name passes'],
    ['[192.0.2.1]', '[192.0.2.1]', 'an address literal passes'],
    ['user+tag@example.org', 'user+tag@example.org', 'an address passes'],
    ['a\r\nb', 'a??b', 'CR and LF cannot end the line'],
    ['a\nb', 'a?b', 'a bare LF neither'],
    ['a\rb', 'a?b', 'a bare CR neither'],
    ['a b\tc', 'a?b?c', 'spaces and tabs cannot fold'],
    ['(x)', '?x?', 'parentheses cannot end or open a comment'],
    ['a;b', 'a?b', 'a semicolon cannot end the clauses before the date'],
    ['<y>', '?y?', 'angle brackets cannot end the for clause'],
    ['\\"', '??', 'backslash and quote cannot escape'],
    ['é', '?', 'non-ASCII is replaced'],
    ['\x00\x7f', '??', 'NUL and DEL are replaced'],
    ['', '', 'empty stays empty'],
  ])('%j -> %j (%s)', (input, output, _why) => {
    expect(headerSafe(input)).toBe(output);
  });

  it('cuts long values to 255 characters', () => {
    expect(headerSafe('a'.repeat(1000))).toBe('a'.repeat(255));
  });

  it('an injected header becomes text on the same line', () => {
    expect(headerSafe('evil\r\nX-Injected: 1')).toBe('evil??X-Injected:?1');
  });
});

describe('rfc5322Date', () => {
  it.each([
    // date, text, why
    [new Date('2026-01-02T03:04:05Z'), 'Fri, 02 Jan 2026 03:04:05 +0000', 'day and time zero-padded'],
    [new Date('2026-11-22T22:30:12Z'), 'Sun, 22 Nov 2026 22:30:12 +0000', 'a numeric zone, never GMT'],
    [new Date('2026-06-30T23:59:59-05:00'), 'Wed, 01 Jul 2026 04:59:59 +0000', 'always written in UTC'],
  ] as const)('%s -> %j (%s)', (date, text, _why) => {
    expect(rfc5322Date(date)).toBe(text);
  });
});
