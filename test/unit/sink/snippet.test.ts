import { describe, expect, it } from 'vitest';
import { snippetOf } from '../../../src/sink/summary.js';

/** What the list shows: the whole text with white space collapsed, trimmed, cut at 250. */
const reference = (text: string) => text.replace(/\s+/g, ' ').trim().slice(0, 250);

describe('snippetOf looks at the head of the text only, and says what the whole would', () => {
  const cases: [why: string, text: string][] = [
    ['empty', ''],
    ['short', '  Hello,\r\n\r\n  world  '],
    ['long plain text', 'La de da de da 1.\r\n'.repeat(500)],
    ['the head is all white space', `${' \r\n\t'.repeat(400)}late text ${'word '.repeat(100)}`],
    ['white space only', ' \r\n'.repeat(2000)],
    ['a run of spaces across the first cut', `${'a'.repeat(995)}${' '.repeat(20)}${'b'.repeat(300)}`],
    ['the 250th character is a space', `${'a'.repeat(249)}   ${'b'.repeat(2000)}`],
    ['runs of white space shrink a long text to under 250', `${'x \n\n\n\n\n\n'.repeat(150)}end`],
    ['unicode spaces', '\u00a0\u2003word'.repeat(400)],
  ];
  it.each(cases)('%s', (_why, text) => {
    expect(snippetOf(text)).toBe(reference(text));
  });
});
