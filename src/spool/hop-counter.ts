/**
 * Counts Received header fields in a message's header block as it streams by, so a mail
 * loop (our accepted domain routed back to ourselves) ends at a hop limit, as Postfix's
 * hopcount_limit does, instead of circling forever. Stops looking at the first empty line.
 */
export class HopCounter {
  hops = 0;
  private inHeader = true;
  /** The start of the current line, kept until a CRLF shows where it ends. */
  private line = '';

  feed(chunk: Buffer): void {
    if (!this.inHeader) return;
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(0x0a, start);
      const piece = chunk.toString('latin1', start, end < 0 ? chunk.length : end);
      if (end < 0) {
        // Only the first 9 bytes of a line matter ("received:").
        if (this.line.length < 16) this.line += piece.slice(0, 16);
        return;
      }
      const line = (this.line + piece).replace(/\r$/, '');
      this.line = '';
      if (line === '') {
        this.inHeader = false;
        return;
      }
      if (/^received:/i.test(line)) this.hops++;
      start = end + 1;
    }
  }
}
