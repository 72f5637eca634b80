/**
 * NUL (0x00) has no place in a message (RFC 5322 §3.5, RFC 5321 §4.5.2), and a next hop
 * may read "\r\n\x00.\r\n" as the end of DATA: a smuggling vector. smtp-server passes NUL
 * to onData unchanged, so the data phase removes or counts it before the spool.
 */
const NUL = 0x00;

/** The chunk without its NUL bytes (the same Buffer when it has none) and how many went. */
export function stripNul(chunk: Buffer): { readonly chunk: Buffer; readonly removed: number } {
  let next = chunk.indexOf(NUL);
  if (next < 0) return { chunk, removed: 0 };
  const pieces: Buffer[] = [];
  let start = 0;
  let removed = 0;
  while (next >= 0) {
    pieces.push(chunk.subarray(start, next));
    removed++;
    start = next + 1;
    next = chunk.indexOf(NUL, start);
  }
  pieces.push(chunk.subarray(start));
  return { chunk: Buffer.concat(pieces), removed };
}
