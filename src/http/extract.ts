/** Links and one-time codes in a message, for tests that click a link or type a code. */
export function extractLinks(text: string, html: string | undefined): string[] {
  const found = new Set<string>();
  for (const match of (html ?? '').matchAll(/href\s*=\s*["']([^"']+)["']/gi)) {
    const href = match[1];
    if (href && /^https?:\/\//i.test(href)) found.add(href.replace(/&amp;/g, '&'));
  }
  for (const match of text.matchAll(/https?:\/\/[^\s<>"')\]]+/gi)) found.add(match[0]);
  return [...found];
}

/** 4 to 8 digit numbers, and "code: ABC123"-style tokens, in order of appearance. */
export function extractCodes(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(/\b(?:code|otp|pin|token)\b[^\w\n]{0,3}([A-Z0-9]{4,10})\b/gi)) {
    if (match[1]) found.add(match[1]);
  }
  for (const match of text.matchAll(/(?<![\w./-])(\d{4,8})(?![\w./-])/g)) {
    if (match[1]) found.add(match[1]);
  }
  return [...found];
}
