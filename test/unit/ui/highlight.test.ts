import { describe, expect, it } from 'vitest';
import { highlightHtml, type TokenKind } from '../../../ui/src/highlight.js';

const kinds = (source: string) => highlightHtml(source).map((t) => [t.kind, t.text] as [TokenKind, string]);

describe('highlightHtml', () => {
  it.each([
    // why: the plain case, quoted value
    [
      '<a href="x">go</a>',
      [
        ['tag', '<a'],
        ['text', ' '],
        ['attr', 'href'],
        ['punct', '='],
        ['value', '"x"'],
        ['tag', '>'],
        ['text', 'go'],
        ['tag', '</a>'],
      ],
    ],
    // why: a bare value after = is a value, not a name
    [
      '<td width=5>',
      [
        ['tag', '<td'],
        ['text', ' '],
        ['attr', 'width'],
        ['punct', '='],
        ['value', '5'],
        ['tag', '>'],
      ],
    ],
    // why: a boolean attribute and a self-closing tag
    [
      '<input disabled/>',
      [
        ['tag', '<input'],
        ['text', ' '],
        ['attr', 'disabled'],
        ['tag', '/>'],
      ],
    ],
    // why: comments and doctypes are their own colour, markup inside a comment is not a tag
    [
      '<!DOCTYPE html><!-- <b> -->',
      [
        ['doctype', '<!DOCTYPE html>'],
        ['comment', '<!-- <b> -->'],
      ],
    ],
    // why: a lone < in text is text
    ['a < b', [['text', 'a < b']]],
    // why: a quote left open runs to the end (broken HTML still shows)
    [
      '<p class="x',
      [
        ['tag', '<p'],
        ['text', ' '],
        ['attr', 'class'],
        ['punct', '='],
        ['value', '"x'],
      ],
    ],
    // why: single quotes hold a > without ending the tag
    [
      "<p title='a>b'>",
      [
        ['tag', '<p'],
        ['text', ' '],
        ['attr', 'title'],
        ['punct', '='],
        ['value', "'a>b'"],
        ['tag', '>'],
      ],
    ],
  ])('%s', (source, expected) => {
    expect(kinds(source)).toEqual(expected);
  });

  it('always gives back exactly the input', () => {
    const samples = ['<', '<<a', '<a =b>', '<!-- open', '<a b="c\'d">e</a', '</>', '<a/b>', '&lt;x&gt;'];
    for (const source of samples) {
      expect(
        highlightHtml(source)
          .map((t) => t.text)
          .join(''),
      ).toBe(source);
    }
  });
});
