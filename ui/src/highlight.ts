/**
 * HTML source split into coloured tokens. Pure (no DOM), so it is tested as a table; the view
 * turns each token into a text node inside a span, so the source is never parsed as markup.
 * A lexer, not a parser: it colours whatever it is given, broken HTML included, and the
 * tokens' texts joined are always exactly the input.
 */
export type TokenKind = 'text' | 'tag' | 'attr' | 'value' | 'comment' | 'doctype' | 'punct';

export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
}

/** Inside a tag: attribute names, =, quoted or bare values, whitespace, and the closing > or />. */
const TAG_PART = /(\s+)|(\/?>)|(=)|("[^"]*"?|'[^']*'?)|([^\s=>"'/]+|\/)/y;

export function highlightHtml(source: string): Token[] {
  const tokens: Token[] = [];
  const push = (kind: TokenKind, text: string) => {
    if (text === '') return;
    const last = tokens[tokens.length - 1];
    if (last?.kind === kind) tokens[tokens.length - 1] = { kind, text: last.text + text };
    else tokens.push({ kind, text });
  };
  let at = 0;
  while (at < source.length) {
    const open = source.indexOf('<', at);
    if (open < 0) {
      push('text', source.slice(at));
      break;
    }
    push('text', source.slice(at, open));
    if (source.startsWith('<!--', open)) {
      const end = source.indexOf('-->', open + 4);
      const stop = end < 0 ? source.length : end + 3;
      push('comment', source.slice(open, stop));
      at = stop;
      continue;
    }
    if (source.startsWith('<!', open)) {
      const end = source.indexOf('>', open);
      const stop = end < 0 ? source.length : end + 1;
      push('doctype', source.slice(open, stop));
      at = stop;
      continue;
    }
    const name = /<\/?[A-Za-z][\w:-]*/y;
    name.lastIndex = open;
    const match = name.exec(source);
    if (!match) {
      // A lone '<' (as in "a < b"): text.
      push('text', '<');
      at = open + 1;
      continue;
    }
    push('tag', match[0]);
    at = name.lastIndex;
    while (at < source.length) {
      TAG_PART.lastIndex = at;
      const part = TAG_PART.exec(source);
      if (!part) break;
      at = TAG_PART.lastIndex;
      if (part[1] !== undefined) push('text', part[1]);
      else if (part[2] !== undefined) {
        push('tag', part[2]);
        break;
      } else if (part[3] !== undefined) push('punct', part[3]);
      else if (part[4] !== undefined) push('value', part[4]);
      else if (part[5] !== undefined) {
        const previous = tokens[tokens.length - 1];
        push(previous?.kind === 'punct' ? 'value' : 'attr', part[5]);
      }
    }
  }
  return tokens;
}
