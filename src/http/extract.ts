/** Links and one-time codes in a message, for tests that click a link or type a code. */

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** An href as the browser would follow it: &amp;, &#38; and &#x26; all mean "&". */
function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity.startsWith('#x') || entity.startsWith('#X')) {
      return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    }
    if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    return NAMED_ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

export function extractLinks(text: string, html: string | undefined): string[] {
  const found = new Set<string>();
  // Quoted or unquoted (href=https://x/y>): an unquoted value ends at whitespace or ">".
  for (const match of (html ?? '').matchAll(/href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/gi)) {
    const href = decodeEntities((match[1] ?? match[2] ?? match[3] ?? '').trim());
    if (/^https?:\/\//i.test(href)) found.add(href);
  }
  // A sentence may end right after a link: its full stop or comma is not part of it.
  for (const match of text.matchAll(/https?:\/\/[^\s<>"')\]]+/gi)) {
    found.add(match[0].replace(/[.,;:!?]+$/, ''));
  }
  return [...found];
}

/** Words that make the number after them a reference, not something to type in. */
const REFERENCE_WORDS = /(?:\b(?:order|invoice|ticket|ref|reference|account|case|no|number)|#)\W{0,3}$/i;

/**
 * One-time codes in order of appearance: "code: ABC123"-style tokens, then 4 to 8 digit
 * numbers standing alone. A number may end a sentence ("code is 834921.") but not be part of
 * a version, date or decimal; a number right after "order", "invoice", "#"... is a reference.
 */
export function extractCodes(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(
    /\b(?:code|otp|pin|token|passcode)\b(?:\s+is)?[^\w\n]{0,3}([A-Z0-9]{4,10})\b/gi,
  )) {
    if (match[1] && /\d/.test(match[1])) found.add(match[1]);
  }
  for (const match of text.matchAll(/(?<![\w./#-])(\d{4,8})(?![\w/-]|[.,]\d)/g)) {
    const before = text.slice(Math.max(0, match.index - 20), match.index);
    if (match[1] && !REFERENCE_WORDS.test(before)) found.add(match[1]);
  }
  return [...found];
}
