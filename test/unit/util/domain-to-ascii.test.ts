import { domainToASCII as parseDomain } from 'node:url';
import { describe, expect, it } from 'vitest';
import { domainToASCII } from '../../../src/util/domain-to-ascii.js';

/** The same answer as node:url's domainToASCII, which the fast path skips for plain ASCII names. */
describe('domainToASCII', () => {
  it.each([
    // input, why
    ['example.org', 'plain: the fast path'],
    ['Mail.Example.COM', 'upper case: lower-cased, as the URL parser does'],
    ['a', 'one label'],
    ['ab--cd.example', 'hyphens in the third and fourth places, not an A-label'],
    ['-a.b-', 'leading and trailing hyphens are allowed (no CheckHyphens)'],
    [`${'x'.repeat(70)}.com`, 'a label past 63 (no length check)'],
    ['a.1f', 'a last label that starts with a digit but is no number'],
    ['a.0x1f', 'a last label that is a hex number: refused'],
    ['example.123', 'a numeric last label: refused'],
    ['01.2.3.4', 'an IPv4 address in octal: normalised'],
    ['1.2.3.4', 'an IPv4 address'],
    ['a.09', 'a numeric last label that is no octal number: refused'],
    ['xn--bcher-kva.example', 'an A-label: checked by the parser'],
    ['XN--BCHER-KVA.example', 'an A-label in upper case'],
    ['a.xn--zz', 'an invalid A-label: refused'],
    ['bücher.example', 'a U-label: converted'],
    ['BÜCHER.example', 'a U-label in upper case'],
    ['a.b.', 'a trailing dot'],
    ['a..b', 'an empty label'],
    ['.', 'only a dot'],
    ['', 'empty'],
    ['a_b.example', 'an underscore'],
    ['a b', 'a space: refused'],
    ['a/b', 'a slash: the URL parser cuts there'],
    ['a%41.b', 'a percent escape: decoded'],
    ['a\u3002b', 'an ideographic full stop is a dot'],
    ['ex\u00adample.org', 'a soft hyphen is dropped'],
  ])('%j: %s', (input, _why) => {
    expect(domainToASCII(input)).toBe(parseDomain(input));
  });

  it('agrees with node:url on 20,000 generated names', () => {
    // A fixed linear congruential sequence: the same names on every run (~1,500 of them plain).
    let seed = 12345;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pieces = ['a', 'Z', 'q', '0', '7', '-', '.', 'xn--', 'XN--', '0x', '%41', '_', 'ü', '\u3002', ' '];
    for (let i = 0; i < 20_000; i++) {
      let name = '';
      for (let length = 1 + next(12); length > 0; length--) name += pieces[next(pieces.length)] ?? '';
      expect(domainToASCII(name), JSON.stringify(name)).toBe(parseDomain(name));
    }
  });
});
