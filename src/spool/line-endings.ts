import { Transform, type TransformCallback } from 'node:stream';

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');

/**
 * Turns every bare CR and bare LF into CRLF, so the spool never holds one (smtp-server
 * passes them through to onData unchanged). Counts what it changed, so a policy of
 * `bareLineEndings: reject` can refuse the message instead.
 */
export class LineEndingNormalizer extends Transform {
  /** Bare CRs and LFs seen so far. */
  bareLineEndings = 0;
  /** Bytes passed on, after normalising. */
  bytesOut = 0;
  private pendingCR = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    // An empty write must not settle a pending CR: its LF may still come in the next chunk.
    if (chunk.length === 0) {
      callback();
      return;
    }
    const pieces: Buffer[] = [];
    let start = 0;
    let index = 0;
    if (this.pendingCR) {
      this.pendingCR = false;
      pieces.push(CRLF);
      if (chunk[0] === LF) {
        index = 1;
        start = 1;
      } else {
        this.bareLineEndings++;
      }
    }
    // Jumps from one CR or LF to the next with indexOf (memchr) instead of looking at
    // every byte in JavaScript: a CRLF costs two native searches, text between them nothing.
    let nextCR = chunk.indexOf(CR, index);
    let nextLF = chunk.indexOf(LF, index);
    while (nextCR >= 0 || nextLF >= 0) {
      if (nextLF >= 0 && (nextCR < 0 || nextLF < nextCR)) {
        // An LF with no CR before it.
        pieces.push(chunk.subarray(start, nextLF), CRLF);
        start = nextLF + 1;
        this.bareLineEndings++;
        nextLF = chunk.indexOf(LF, start);
        continue;
      }
      index = nextCR;
      if (index + 1 === chunk.length) {
        // The LF that would complete it may start the next chunk.
        pieces.push(chunk.subarray(start, index));
        start = index + 1;
        this.pendingCR = true;
        break;
      }
      if (chunk[index + 1] === LF) {
        nextLF = chunk.indexOf(LF, index + 2);
      } else {
        pieces.push(chunk.subarray(start, index), CRLF);
        start = index + 1;
        this.bareLineEndings++;
      }
      nextCR = chunk.indexOf(CR, index + 1);
    }
    if (start === 0 && pieces.length === 0) {
      this.bytesOut += chunk.length;
      callback(null, chunk);
      return;
    }
    pieces.push(chunk.subarray(start));
    const out = Buffer.concat(pieces);
    this.bytesOut += out.length;
    callback(null, out);
  }

  override _flush(callback: TransformCallback): void {
    if (this.pendingCR) {
      this.pendingCR = false;
      this.bareLineEndings++;
      this.bytesOut += CRLF.length;
      callback(null, CRLF);
      return;
    }
    callback();
  }
}
