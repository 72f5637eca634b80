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

describe('receivedHeader (RFC 5321 §4.4, RFC 3848)', () => {
  it('has from, by, with, id, for and the date, folded with tabs', () => {
    expect(receivedHeader(base)).toBe(
      'Received: from client.example ([192.0.2.7])\r\n' +
        '\tby mx.example (mailwharf) with ESMTP id 0MWSF89GCAQP4Q8F3\r\n' +
        '\tfor <one@example.org>; Sun, 22 Nov 2026 22:30:12 +0000\r\n',
    );
  });

  it.each([
    [{ esmtp: false }, 'with SMTP id'],
    [{ tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' } }, 'with ESMTPS id'],
    [{ authenticated: true }, 'with ESMTPA id'],
    [{ tls: { version: 'TLSv1.2', cipher: 'X' }, authenticated: true }, 'with ESMTPSA id'],
  ] as const)('%j -> %s', (facts, expected) => {
    expect(receivedHeader({ ...base, ...facts })).toContain(expected);
  });

  it('names no recipient when there are several (privacy)', () => {
    const header = receivedHeader({ ...base, recipients: ['a@x', 'b@x'] });
    expect(header).not.toContain('for <');
    expect(header.endsWith('; Sun, 22 Nov 2026 22:30:12 +0000\r\n')).toBe(true);
  });

  it('client text cannot end a comment, a field or a line', () => {
    const header = receivedHeader({ ...base, helo: 'x)\r\nX-Injected: 1 (', recipients: ['a>;\r\nX-Evil: 1@x'] });
    expect(header).not.toMatch(/^X-/m);
    expect(header.split('\r\n').slice(1, -1).every((line) => line.startsWith('\t'))).toBe(true);
  });

  it.each([
    ['plain.example', 'plain.example'],
    ['a b', 'a?b'],
    ['(x);<y>\\"', '?x???y???'],
    ['é', '?'],
  ])('headerSafe(%j) = %j', (input, output) => {
    expect(headerSafe(input)).toBe(output);
  });

  it('dates are RFC 5322 with a numeric zone', () => {
    expect(rfc5322Date(new Date('2026-01-02T03:04:05Z'))).toBe('Fri, 02 Jan 2026 03:04:05 +0000');
  });
});
