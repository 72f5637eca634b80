import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { buildDsn, diagnosticCode } from '../../../src/delivery/dsn.js';
import { localOutcome, replyOutcome } from '../../../src/delivery/outcome.js';
import type { Envelope } from '../../../src/spool/envelope.js';
import { testEnvelope } from '../../helpers/envelope.js';

const envelope: Envelope = testEnvelope('0MWSF89GCAQP4Q8F3', 100, {
  receivedAt: '2026-11-22T10:00:00.000Z',
  mailFrom: 'sender@example.com',
  rcptTo: [{ address: 'gone@example.org', orcpt: 'rfc822;gone@example.org' }, { address: 'ok@example.org' }],
  dsn: { envid: 'ENV-42' },
});

describe('diagnosticCode: smtp; only for a remote reply', () => {
  it.each([
    [replyOutcome('550 5.1.1 No such user', 'mx.example.org'), 'smtp; 550 5.1.1 No such user'],
    [replyOutcome('550 mailbox unavailable', 'mx.example.org'), 'smtp; 550 5.0.0 mailbox unavailable'], // class default
    [
      localOutcome('5.1.10', 'domain x.test accepts no mail (null MX)'),
      'X-Mailwharf; domain x.test accepts no mail (null MX)',
    ],
    [localOutcome('4.4.1', 'connection refused'), 'X-Mailwharf; connection refused'],
  ] as const)('%j -> %s', (outcome, code) => {
    expect(diagnosticCode(outcome)).toBe(code);
  });
});

function buildDsnText(input: Parameters<typeof buildDsn>[0]): string {
  return buildDsn(input).toString('utf8');
}

describe('buildDsn', () => {
  it('is an RFC 3464 multipart/report that mailparser reads back', async () => {
    const text = buildDsnText({
      kind: 'failed',
      envelope,
      recipients: [
        {
          address: 'gone@example.org',
          status: 'failed',
          outcome: replyOutcome('550 5.1.1 No such user', 'mx.example.org'),
        },
      ],
      hostname: 'relay.test',
      originalHeaders: 'Subject: Hello\r\nFrom: sender@example.com',
      originalMessage: undefined,
      now: new Date('2026-11-22T11:00:00Z'),
    });
    expect(text).not.toMatch(/(?<!\r)\n/); // CRLF only
    const parsed = await simpleParser(text);
    expect(parsed.subject).toBe('Undelivered Mail Returned to Sender');
    expect(parsed.headers.get('auto-submitted')).toBe('auto-replied');
    expect(text).toMatch(/^Original-Envelope-Id: ENV-42\r$/m);
    expect(text).toMatch(/^Final-Recipient: rfc822; gone@example\.org\r$/m);
    expect(text).toMatch(/^Original-Recipient: rfc822;gone@example\.org\r$/m);
    expect(text).toMatch(/^Status: 5\.1\.1\r$/m);
    expect(text).toMatch(/^Remote-MTA: dns; mx\.example\.org\r$/m);
    expect(text).toMatch(/^Diagnostic-Code: smtp; 550 5\.1\.1 No such user\r$/m);
    expect(text).not.toMatch(/ok@example\.org/);
    expect(
      parsed.attachments.find((a) => a.contentType === 'text/rfc822-headers')?.content.toString(),
    ).toContain('Subject: Hello');
  });

  it('a header value cannot break out of its line', () => {
    const text = buildDsnText({
      kind: 'delayed',
      envelope: { ...envelope, dsn: { envid: 'x\r\nX-Injected: 1' } },
      recipients: [
        {
          address: 'gone@example.org',
          status: 'deferred',
          outcome: replyOutcome('451 4.4.1\r\nX-Evil: 1', undefined),
        },
      ],
      hostname: 'relay.test',
      originalHeaders: 'Subject: x',
      originalMessage: undefined,
      now: new Date(),
      retryUntil: new Date('2026-11-27T10:00:00Z'),
    });
    expect(text).not.toMatch(/^X-Injected/m);
    expect(text).not.toMatch(/^X-Evil/m);
    expect(text).toMatch(/^Action: delayed\r$/m);
    expect(text).toMatch(/^Will-Retry-Until: Fri, 27 Nov 2026 10:00:00 \+0000\r$/m);
  });

  it('returns the original headers byte for byte, 8-bit ones included', () => {
    const originalHeaders = Buffer.from('Subject: Grüße\r\nX-Bytes: \xe9', 'latin1').toString('latin1');
    const bytes = buildDsn({
      kind: 'failed',
      envelope,
      recipients: [
        { address: 'gone@example.org', status: 'failed', outcome: replyOutcome('550 5.1.1 x', 'mx') },
      ],
      hostname: 'relay.test',
      originalHeaders,
      originalMessage: undefined,
      now: new Date(),
    });
    expect(bytes.includes(Buffer.from(originalHeaders, 'latin1'))).toBe(true);
  });
});
