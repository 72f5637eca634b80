import { describe, expect, it } from 'vitest';
import {
  authenticationResultsHeader,
  claimsOurAuthservId,
  inboundAuthVerdict,
  receivedSpfHeader,
  spfVerdict,
  type AuthFindings,
  type DmarcAction,
} from '../../../src/pipeline/authentication-results.js';
import { accept, reject, type Verdict } from '../../../src/pipeline/verdict.js';
import { dmarcRejected, replies, spfRejected } from '../../../src/smtp/replies.js';

const base: AuthFindings = {
  spf: {
    result: 'pass',
    mailFrom: 'alice@example.org',
    helo: 'mta.example.org',
    clientAddress: '192.0.2.1',
    domain: 'example.org',
  },
  dkim: [{ result: 'pass', domain: 'example.org', selector: 'sel1' }],
  dmarc: { result: 'pass', fromDomain: 'example.org', policy: 'reject', pct: undefined },
};

function findings(change: {
  spf?: Partial<AuthFindings['spf']>;
  dkim?: AuthFindings['dkim'];
  dmarc?: Partial<AuthFindings['dmarc']>;
  notChecked?: string;
}): AuthFindings {
  return {
    ...(change.notChecked === undefined ? {} : { notChecked: change.notChecked }),
    spf: { ...base.spf, ...change.spf },
    dkim: change.dkim ?? base.dkim,
    dmarc: { ...base.dmarc, ...change.dmarc },
  };
}

describe('authenticationResultsHeader', () => {
  it.each<[string, AuthFindings, string]>([
    [
      'all pass: one resinfo per method, folded',
      base,
      'spf=pass smtp.mailfrom=alice@example.org;\r\n\tdkim=pass header.d=example.org header.s=sel1;\r\n\tdmarc=pass (p=reject) header.from=example.org',
    ],
    [
      'the null sender: SPF checked the HELO name (RFC 7208 §2.3), so smtp.helo',
      findings({ spf: { result: 'softfail', mailFrom: '' } }),
      'spf=softfail smtp.helo=mta.example.org;\r\n\tdkim=pass header.d=example.org header.s=sel1;\r\n\tdmarc=pass (p=reject) header.from=example.org',
    ],
    [
      'unsigned: dkim=none; no DMARC record: no policy comment',
      findings({ dkim: [], dmarc: { result: 'none', policy: undefined } }),
      'spf=pass smtp.mailfrom=alice@example.org;\r\n\tdkim=none;\r\n\tdmarc=none header.from=example.org',
    ],
    [
      'two signatures: two dkim resinfos, in order',
      findings({
        dkim: [
          { result: 'fail', domain: 'example.org', selector: 'a' },
          { result: 'pass', domain: 'esp.example', selector: 'b' },
        ],
      }),
      'spf=pass smtp.mailfrom=alice@example.org;\r\n\tdkim=fail header.d=example.org header.s=a;\r\n\tdkim=pass header.d=esp.example header.s=b;\r\n\tdmarc=pass (p=reject) header.from=example.org',
    ],
    [
      'no From: DMARC not evaluated, no header.from',
      findings({ dmarc: { result: 'none', fromDomain: '', policy: undefined } }),
      'spf=pass smtp.mailfrom=alice@example.org;\r\n\tdkim=pass header.d=example.org header.s=sel1;\r\n\tdmarc=none',
    ],
    [
      'header section too large to verify: permerror with the reason, never "not signed"',
      findings({
        notChecked: 'header section over 256 KiB, not verified',
        dkim: [],
        dmarc: { result: 'permerror', fromDomain: '', policy: undefined },
      }),
      'spf=pass smtp.mailfrom=alice@example.org;\r\n\tdkim=permerror (header section over 256 KiB, not verified);\r\n\tdmarc=permerror (header section over 256 KiB, not verified)',
    ],
    [
      'client text cannot end a resinfo or inject a line',
      findings({ spf: { mailFrom: 'a;b\r\nX-Evil: 1@example.org' } }),
      'spf=pass smtp.mailfrom=a?b??X-Evil:?1@example.org;\r\n\tdkim=pass header.d=example.org header.s=sel1;\r\n\tdmarc=pass (p=reject) header.from=example.org',
    ],
  ])('%s', (_why, input, resinfos) => {
    expect(authenticationResultsHeader('mx.example.net', input)).toBe(
      `Authentication-Results: mx.example.net;\r\n\t${resinfos}\r\n`,
    );
  });
});

describe('receivedSpfHeader (RFC 7208 §9.1)', () => {
  const tail = (pairs: string): string => `\r\n\t${pairs}\r\n`;
  it.each<[string, AuthFindings['spf'], string]>([
    [
      'pass: the comment says who designates whom; the sender is quoted (not a dot-atom)',
      base.spf,
      'Received-SPF: pass (mx.example.net: domain of alice@example.org designates 192.0.2.1 as permitted sender)' +
        tail(
          'client-ip=192.0.2.1; envelope-from="alice@example.org"; helo=mta.example.org; receiver=mx.example.net; identity=mailfrom;',
        ),
    ],
    [
      'fail',
      { ...base.spf, result: 'fail' },
      'Received-SPF: fail (mx.example.net: domain of alice@example.org does not designate 192.0.2.1 as permitted sender)' +
        tail(
          'client-ip=192.0.2.1; envelope-from="alice@example.org"; helo=mta.example.org; receiver=mx.example.net; identity=mailfrom;',
        ),
    ],
    [
      'softfail',
      { ...base.spf, result: 'softfail' },
      'Received-SPF: softfail (mx.example.net: domain of transitioning alice@example.org does not designate 192.0.2.1 as permitted sender)' +
        tail(
          'client-ip=192.0.2.1; envelope-from="alice@example.org"; helo=mta.example.org; receiver=mx.example.net; identity=mailfrom;',
        ),
    ],
    [
      'the null sender: the HELO identity was checked, no envelope-from',
      { ...base.spf, result: 'none', mailFrom: '' },
      'Received-SPF: none (mx.example.net: domain of postmaster@mta.example.org does not designate permitted sender hosts)' +
        tail('client-ip=192.0.2.1; helo=mta.example.org; receiver=mx.example.net; identity=helo;'),
    ],
    [
      'IPv6 and an address-literal HELO are not dot-atoms: quoted',
      { ...base.spf, result: 'temperror', clientAddress: '2001:db8::1', helo: '[2001:db8::1]' },
      'Received-SPF: temperror (mx.example.net: error in processing during lookup of domain of alice@example.org)' +
        tail(
          'client-ip="2001:db8::1"; envelope-from="alice@example.org"; helo="[2001:db8::1]"; receiver=mx.example.net; identity=mailfrom;',
        ),
    ],
    [
      'client text cannot close the comment, end a quoted value or inject a line',
      { ...base.spf, mailFrom: 'a")(;b\r\nX-Evil: 1@example.org', helo: 'x;y' },
      'Received-SPF: pass (mx.example.net: domain of a????b??X-Evil:?1@example.org designates 192.0.2.1 as permitted sender)' +
        tail(
          'client-ip=192.0.2.1; envelope-from="a????b??X-Evil:?1@example.org"; helo=x?y; receiver=mx.example.net; identity=mailfrom;',
        ),
    ],
  ])('%s', (_why, spf, header) => {
    expect(receivedSpfHeader('mx.example.net', spf)).toBe(header);
  });
});

describe('spfVerdict (MAIL FROM, inboundAuth.spf)', () => {
  const refused: Verdict = reject(spfRejected('example.org'));
  it.each<[string, 'record' | 'reject', AuthFindings['spf']['result'], Verdict]>([
    ['record never refuses, even a fail', 'record', 'fail', accept],
    ['reject: fail is refused (RFC 7208 §8.4)', 'reject', 'fail', refused],
    ['reject: softfail is recorded, not refused', 'reject', 'softfail', accept],
    ['reject: neutral is accepted', 'reject', 'neutral', accept],
    ['reject: no record is accepted', 'reject', 'none', accept],
    ['reject: a DNS failure is left to DMARC after DATA', 'reject', 'temperror', accept],
    ['reject: a broken record is not the client’s fault', 'reject', 'permerror', accept],
    ['reject: pass', 'reject', 'pass', accept],
  ])('%s', (_why, action, result, verdict) => {
    expect(spfVerdict(action, { ...base.spf, result })).toEqual(verdict);
  });

  it('names the domain checked, made safe for the reply line', () => {
    expect(spfRejected('bad domain\r\n.example')).toMatchObject({
      code: 550,
      enhanced: '5.7.23',
      text: 'SPF validation failed for bad?domain??.example',
    });
  });
});

describe('inboundAuthVerdict', () => {
  const rejected: Verdict = reject(dmarcRejected('example.org'));
  const deferred: Verdict = reject(replies.dmarcDeferred);
  it.each<[string, DmarcAction, AuthFindings, Verdict]>([
    [
      'record never refuses, even p=reject failing',
      'record',
      findings({ dmarc: { result: 'fail' } }),
      accept,
    ],
    ['record never defers', 'record', findings({ dmarc: { result: 'temperror' } }), accept],
    [
      'a header section too large to verify is refused under record: forged results could not be removed',
      'record',
      findings({
        notChecked: 'header section over 256 KiB, not verified',
        dkim: [],
        dmarc: { result: 'permerror' },
      }),
      reject(replies.headerTooLarge),
    ],
    [
      'and under reject: padding must not sidestep p=reject (permerror is otherwise accepted)',
      'reject',
      findings({
        notChecked: 'header section over 256 KiB, not verified',
        dkim: [],
        dmarc: { result: 'permerror' },
      }),
      reject(replies.headerTooLarge),
    ],
    ['reject: DMARC pass is accepted', 'reject', base, accept],
    ['reject: p=reject failing is refused', 'reject', findings({ dmarc: { result: 'fail' } }), rejected],
    [
      'reject: p=quarantine failing is accepted (and recorded)',
      'reject',
      findings({ dmarc: { result: 'fail', policy: 'quarantine' } }),
      accept,
    ],
    [
      'reject: p=none failing is accepted',
      'reject',
      findings({ dmarc: { result: 'fail', policy: 'none' } }),
      accept,
    ],
    [
      'reject: pct below 100 is not sampled, accepted',
      'reject',
      findings({ dmarc: { result: 'fail', pct: 50 } }),
      accept,
    ],
    [
      'reject: pct=100 is the same as none given',
      'reject',
      findings({ dmarc: { result: 'fail', pct: 100 } }),
      rejected,
    ],
    [
      'reject: no DMARC record is accepted',
      'reject',
      findings({ dmarc: { result: 'none', policy: undefined } }),
      accept,
    ],
    [
      'reject: DMARC temperror (record lookup failed) defers',
      'reject',
      findings({ dmarc: { result: 'temperror' } }),
      deferred,
    ],
    [
      'reject: p=reject failing while SPF had a DNS failure defers (SPF might have passed)',
      'reject',
      findings({ spf: { result: 'temperror' }, dkim: [], dmarc: { result: 'fail' } }),
      deferred,
    ],
    [
      'reject: p=reject failing while a signature had a DNS failure defers',
      'reject',
      findings({
        spf: { result: 'fail' },
        dkim: [{ result: 'temperror', domain: 'example.org', selector: 's' }],
        dmarc: { result: 'fail' },
      }),
      deferred,
    ],
    [
      'reject: SPF permerror is a failure, not a reason to wait',
      'reject',
      findings({ spf: { result: 'permerror' }, dkim: [], dmarc: { result: 'fail' } }),
      rejected,
    ],
  ])('%s', (_why, action, input, expected) => {
    expect(inboundAuthVerdict(action, input)).toEqual(expected);
  });
});

describe('claimsOurAuthservId', () => {
  it.each<[string, string, boolean]>([
    ['ours', 'Authentication-Results: mx.example.net; spf=pass', true],
    ['ours, any case, folded', 'authentication-results:\r\n\tMX.Example.NET;\r\n\tdkim=pass', true],
    ['ours after a comment', 'Authentication-Results: (forged) mx.example.net; spf=pass', true],
    ['ours with no results', 'Authentication-Results: mx.example.net; none', true],
    ['another receiver’s: kept', 'Authentication-Results: mx.google.com; spf=pass', false],
    [
      'a longer name that starts with ours: kept',
      'Authentication-Results: mx.example.net.evil; spf=pass',
      false,
    ],
    ['another field', 'X-Authentication-Results: mx.example.net; spf=pass', false],
  ])('%s', (_why, field, expected) => {
    expect(claimsOurAuthservId(field, 'mx.example.net')).toBe(expected);
  });
});
