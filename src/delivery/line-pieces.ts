/**
 * Splits a byte stream into lines (ended by CRLF; a bare CR or LF is data) for code that
 * decides by what a line starts with but must not hold a line whole: a line longer than
 * PIECE_BYTES comes in pieces of PIECE_BYTES, cut at the same offsets however the input was
 * chunked, so two reads of one file give the same pieces.
 */

/** The longest piece: far more than any line start is looked at for (a MIME boundary is ≤ 70 bytes). */
export const PIECE_BYTES = 64 * 1024;

const CRLF = Buffer.from('\r\n');

export interface LinePiece {
  /** Bytes of the line, without its CRLF. */
  readonly bytes: Buffer;
  /** The piece starts its line. */
  readonly first: boolean;
  /** The piece ends its line. */
  readonly last: boolean;
  /** The line ended with CRLF (only on a last piece; the input's final line may have none). */
  readonly crlf: boolean;
}

export class LineSplitter {
  private pending: Buffer = Buffer.alloc(0);
  private atLineStart = true;

  constructor(private readonly onPiece: (piece: LinePiece) => void) {}

  write(chunk: Buffer): void {
    let pending = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      // A CRLF that starts at PIECE_BYTES still ends a piece of PIECE_BYTES: look one past it.
      const end = pending.subarray(0, PIECE_BYTES + 2).indexOf(CRLF);
      if (end >= 0) {
        this.emit(pending.subarray(0, end), true, true);
        pending = pending.subarray(end + 2);
      } else if (pending.length > PIECE_BYTES + 1) {
        this.emit(pending.subarray(0, PIECE_BYTES), false, false);
        pending = pending.subarray(PIECE_BYTES);
      } else break;
    }
    // Copied, so the caller's chunk is not kept alive by a few bytes of it.
    this.pending = Buffer.from(pending);
  }

  end(): void {
    if (this.pending.length > 0 || !this.atLineStart) this.emit(this.pending, true, false);
    this.pending = Buffer.alloc(0);
  }

  private emit(bytes: Buffer, last: boolean, crlf: boolean): void {
    const first = this.atLineStart;
    this.atLineStart = last;
    this.onPiece({ bytes, first, last, crlf });
  }
}
