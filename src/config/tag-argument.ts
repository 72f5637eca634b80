/**
 * Mailpit's --tag value (its MP_TAG): one or more tag rules separated by whitespace (spaces,
 * or the line breaks a compose or .env file's multi-line value brings), each
 * `TAG[,TAG]=SEARCH`. A double-quoted stretch keeps its spaces and loses its quotes, as
 * Mailpit's argument splitter does, so `"Foo Bar"=from:shop "Invoices"="subject:invoice paid"`
 * is two rules. The search is everything after the first "=", trimmed and lower-cased (Mailpit
 * lower-cases it; our search ignores case anyway).
 */

export interface TagArgumentRule {
  readonly match: string;
  readonly tags: readonly string[];
}

/** The rules in `value`, or why it is not one: a message for the caller to prefix with the flag. */
export function parseTagArgument(value: string): TagArgumentRule[] | { readonly problem: string } {
  const words = splitWords(value);
  if (words === undefined) return { problem: `unbalanced double quote in ${JSON.stringify(value)}` };
  const rules: TagArgumentRule[] = [];
  for (const word of words) {
    const equals = word.indexOf('=');
    const tags = (equals < 0 ? '' : word.slice(0, equals)).split(',').map((tag) => tag.trim());
    const match = word
      .slice(equals + 1)
      .trim()
      .toLowerCase();
    if (equals < 0 || match === '' || tags.some((tag) => tag === ''))
      return { problem: `"${word}" is not TAG[,TAG]=SEARCH (e.g. billing=subject:invoice)` };
    rules.push({ match, tags });
  }
  if (rules.length === 0) return { problem: 'no tag rule (TAG[,TAG]=SEARCH)' };
  return rules;
}

/**
 * Splits on whitespace outside double quotes; the quotes themselves are dropped. Undefined when
 * a quote is left open: the rest of the value would silently become one search.
 */
function splitWords(value: string): string[] | undefined {
  const words: string[] = [];
  let word = '';
  let quoted = false;
  for (const char of value) {
    if (char === '"') quoted = !quoted;
    else if (/\s/.test(char) && !quoted) {
      if (word.trim() !== '') words.push(word.trim());
      word = '';
    } else word += char;
  }
  if (quoted) return undefined;
  if (word.trim() !== '') words.push(word.trim());
  return words;
}
