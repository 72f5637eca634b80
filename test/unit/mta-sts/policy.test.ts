import { describe, expect, it } from 'vitest';
import { mxMatches, mxVerdict, parsePolicy, policyIdFromTxt } from '../../../src/mta-sts/policy.js';

describe('policyIdFromTxt (RFC 8461 §3.1)', () => {
  it.each([
    [[['v=STSv1; id=20261130T1']], '20261130T1'],
    [[['v=STSv1;', ' id=abc123']], 'abc123'], // strings of one record are joined
    [[['v=STSv1; id=abc'], ['v=spf1 -all']], 'abc'], // other TXT records are ignored
    [[['v=STSv1; id=a'], ['v=STSv1; id=b']], undefined], // two STS records: no policy
    [[['v=STSv1; id=not-alnum']], undefined],
    [[['v=STSv1; id=' + 'x'.repeat(33)]], undefined], // id is at most 32 characters
    [[['v=STSv10; id=abc']], undefined],
    [[], undefined],
  ])('%j -> %s', (records, id) => {
    expect(policyIdFromTxt(records)).toBe(id);
  });
});

describe('parsePolicy (§3.2)', () => {
  it('reads an enforce policy with CRLF lines and several mx', () => {
    expect(
      parsePolicy(
        'version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.Example.NET.\r\nmax_age: 604800\r\n',
      ),
    ).toEqual({
      ok: true,
      policy: { mode: 'enforce', mx: ['mx1.example.com', '*.example.net'], maxAge: 604800 },
    });
  });

  it.each([
    ['version: STSv2\nmode: enforce\nmx: a.b\nmax_age: 1', /version is STSv2/],
    ['version: STSv1\nmode: block\nmx: a.b\nmax_age: 1', /mode is block/],
    ['version: STSv1\nmode: enforce\nmx: a.b', /max_age is missing/],
    ['version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 31557601', /max_age is 31557601/], // over a year
    ['version: STSv1\nmode: testing\nmax_age: 86400', /no mx/],
    ['<html>not a policy</html>', /version is missing/],
  ])('refuses %j', (text, error) => {
    const parsed = parsePolicy(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(error);
  });

  it('mode none needs no mx', () => {
    expect(parsePolicy('version: STSv1\nmode: none\nmax_age: 86400\n').ok).toBe(true);
  });
});

describe('mxMatches (§4.1)', () => {
  it.each([
    ['mx.example.com', 'mx.example.com', true],
    ['mx.example.com', 'MX.Example.com.', true], // case and a trailing dot do not matter
    ['*.example.com', 'mx.example.com', true],
    ['*.example.com', 'a.mx.example.com', false], // the wildcard is one label only
    ['*.example.com', 'example.com', false],
    ['mx.example.com', 'mx.example.com.evil.test', false],
  ])('%s ~ %s -> %s', (pattern, host, matches) => {
    expect(mxMatches(pattern, host)).toBe(matches);
  });
});

describe('mxVerdict (§5)', () => {
  const policy = (mode: 'enforce' | 'testing' | 'none') => ({ mode, mx: ['*.mail.test'], maxAge: 86400 });
  it.each([
    [undefined, 'mx1.mail.test', { deliver: true, requireVerifiedTls: false }],
    [policy('none'), 'other.test', { deliver: true, requireVerifiedTls: false }],
    [policy('enforce'), 'mx1.mail.test', { deliver: true, requireVerifiedTls: true }],
    [
      policy('enforce'),
      'other.test',
      { deliver: false, reason: 'MTA-STS policy (enforce) does not list MX other.test' },
    ],
    [policy('testing'), 'mx1.mail.test', { deliver: true, requireVerifiedTls: false }],
    [
      policy('testing'),
      'other.test',
      {
        deliver: true,
        requireVerifiedTls: false,
        note: "MTA-STS testing: other.test is not in the policy's mx",
      },
    ],
  ])('%j, MX %s', (p, host, verdict) => {
    expect(mxVerdict(p, host)).toEqual(verdict);
  });
});
