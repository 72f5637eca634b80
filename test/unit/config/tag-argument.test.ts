import { describe, expect, it } from 'vitest';
import { parseTagArgument } from '../../../src/config/tag-argument.js';

describe("parseTagArgument (Mailpit's --tag syntax)", () => {
  it.each([
    // value, rules or problem, why
    ['billing=subject:invoice', [{ match: 'subject:invoice', tags: ['billing'] }], 'one rule'],
    ['a,b=from:shop', [{ match: 'from:shop', tags: ['a', 'b'] }], 'tags are comma separated'],
    [
      'a=from:x  b=subject:y',
      [
        { match: 'from:x', tags: ['a'] },
        { match: 'subject:y', tags: ['b'] },
      ],
      'rules are space separated (runs of spaces too)',
    ],
    [
      '"Foo Bar"="subject:Big Deal"',
      [{ match: 'subject:big deal', tags: ['Foo Bar'] }],
      'quotes keep spaces and go; the search is lower-cased, as Mailpit does',
    ],
    ['x=a=b', [{ match: 'a=b', tags: ['x'] }], 'the search is everything after the first "="'],
    [
      'a=x\nb=y\r\n\tc=z',
      [
        { match: 'x', tags: ['a'] },
        { match: 'y', tags: ['b'] },
        { match: 'z', tags: ['c'] },
      ],
      'line breaks and tabs separate rules too (a multi-line MAILWHARF_TAG from a compose or .env file)',
    ],
    ['"a b"="x\ny"', [{ match: 'x\ny', tags: ['a b'] }], 'inside quotes a line break is kept, as a space is'],
    [
      'a="x y',
      { problem: 'unbalanced double quote in "a=\\"x y"' },
      'a quote left open is refused, not read to the end',
    ],
    ['nosearch', { problem: '"nosearch" is not TAG[,TAG]=SEARCH (e.g. billing=subject:invoice)' }, 'no "="'],
    ['x=', { problem: '"x=" is not TAG[,TAG]=SEARCH (e.g. billing=subject:invoice)' }, 'an empty search'],
    [
      'a,,b=s',
      { problem: '"a,,b=s" is not TAG[,TAG]=SEARCH (e.g. billing=subject:invoice)' },
      'an empty tag',
    ],
    ['  ', { problem: 'no tag rule (TAG[,TAG]=SEARCH)' }, 'nothing'],
  ])('%j', (value, expected, _why) => {
    expect(parseTagArgument(value)).toEqual(expected);
  });
});
