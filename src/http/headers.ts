/** Go's textproto.CanonicalMIMEHeaderKey, as Mailpit's /headers answers: "Message-Id", "Dkim-Signature". */
export function canonicalHeaderKey(key: string): string {
  return key
    .toLowerCase()
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('-');
}

/** The header block of a raw message as Mailpit's JSON: canonical key -> unfolded values, in order. */
export function headerMap(raw: string): Record<string, string[]> {
  const end = raw.search(/\r?\n\r?\n/);
  const block = end >= 0 ? raw.slice(0, end) : raw;
  // No prototype: a header named __proto__ is just a header.
  const out = Object.create(null) as Record<string, string[]>;
  let current: { key: string; value: string } | undefined;
  const flush = (): void => {
    if (!current) return;
    (out[current.key] ??= []).push(current.value.trim());
  };
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && current) {
      current.value += ` ${line.trim()}`;
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    current =
      colon > 0
        ? { key: canonicalHeaderKey(line.slice(0, colon).trim()), value: line.slice(colon + 1) }
        : undefined;
  }
  flush();
  return out;
}
