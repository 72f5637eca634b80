import { describe, expect, it } from 'vitest';
import { pathForm, splitCommandPath } from '../../../src/smtp/path.js';

describe('splitCommandPath', () => {
  it.each([
    // command line, path, params, why
    ['RCPT TO:<a@b.test>', 'a@b.test', '', 'the plain form'],
    ['MAIL FROM: <a@b.test> SIZE=10', 'a@b.test', 'SIZE=10', 'a space after the colon, a parameter'],
    [
      'RCPT TO:<"john smith"@b.test> NOTIFY=NEVER',
      '"john smith"@b.test',
      'NOTIFY=NEVER',
      'a space inside quotes',
    ],
    ['RCPT TO:<"a>b"@b.test>', '"a>b"@b.test', '', '">" inside quotes does not end the path'],
    ['RCPT TO:<"a\\"b"@b.test>', '"a\\"b"@b.test', '', 'an escaped quote does not end the quotes'],
    ['MAIL FROM:<>', '', '', 'the null path'],
  ] as const)('%j -> path %j, params %j (%s)', (line, path, params, _why) => {
    expect(splitCommandPath(line)).toEqual({ path, params });
  });

  it.each([
    ['RCPT TO a@b.test', 'no colon'],
    ['RCPT TO:a@b.test', 'no angle brackets'],
    ['RCPT TO:<"a>b@b.test', 'the quote never closes, so neither does the path'],
  ])('%j -> undefined (%s)', (line) => {
    expect(splitCommandPath(line)).toBeUndefined();
  });
});

describe('pathForm', () => {
  it.each([
    // path, quoted, routing, why
    ['v@example.test', false, false, 'an ordinary address'],
    ['v%evil.example@example.test', false, true, 'the percent hack'],
    ['evil.example!v@example.test', false, true, 'a UUCP bang path'],
    ['@hop.example:v@example.test', false, true, 'an RFC 5321 source route'],
    ['@a.example,@b.example:v@example.test', false, true, 'a source route of two hops'],
    ['"john smith"@example.test', true, false, 'a quoted local part with a space'],
    ['"v@evil.example"@example.test', true, true, 'a quoted @'],
    ['"v%evil.example"@example.test', true, true, 'a quoted %'],
    ['"v\\!x"@example.test', true, true, 'an escaped ! is still a !'],
    ['postmaster', false, false, 'the bare postmaster'],
  ] as const)('%j: quoted %s, routing %s (%s)', (path, quoted, routing, _why) => {
    expect(pathForm(path)).toMatchObject({ quoted, routing });
  });

  it('splits a quoted address at the @ after the closing quote', () => {
    expect(pathForm('"a@b"@example.test')).toMatchObject({ localPart: '"a@b"', domain: 'example.test' });
  });

  it.each([
    ['"unterminated@example.test', 'the quote never closes'],
    ['"a"example.test', 'no @ after the quoted part'],
    ['"a"@', 'no domain'],
    ['"a\u0001"@example.test', 'a control character'],
    ['"a\u200b"@example.test', 'a zero-width space'],
    [`"${'x'.repeat(63)}"@example.test`, 'more than 64 octets of local part'],
  ])('%j -> undefined (%s)', (path) => {
    expect(pathForm(path)).toBeUndefined();
  });
});
