/**
 * 8BITMIME downgrade (RFC 6152 §3, as Postfix does it): a message with 8-bit bodies going to
 * a server that does not offer 8BITMIME has each 8-bit leaf part re-encoded as
 * quoted-printable, recursing through multiparts and message/rfc822. Headers are left as they
 * are (8-bit headers need SMTPUTF8, which is decided elsewhere).
 *
 * It streams, a line (or a 64 KiB piece of one) at a time, in two passes over the message: the
 * first finds which parts have 8-bit bytes, since a part's Content-Transfer-Encoding field
 * comes before the body that decides it; the second converts. Memory is a line, a bit per
 * part and a frame per level of nesting, whatever the message's size.
 *
 * A multipart with no boundary, and a multipart or message nested past the limit, has no parts
 * to look into: mail clients show it as text, so it is converted as a leaf is, losslessly.
 *
 * Nothing 8-bit leaves in a body, not even where no transfer encoding applies (RFC 6152 §3 asks
 * for a 7-bit message): a multipart's preamble and epilogue, which a reader ignores (RFC 2046
 * §5.1.1), and base64 bodies, which a decoder reads ignoring bytes outside its alphabet (RFC 2045
 * §6.8), get "?" for each 8-bit byte, as sendmail's mime8to7 strips them from a preamble. A body
 * labelled quoted-printable gets "=XX" for each, the byte a lenient decoder read it as, with soft
 * line breaks so that no line grows past 76 characters (three times longer, a line could pass
 * SMTP's 998 and be cut by a hop, changing what it decodes to). Postfix sends these bytes as they
 * are, to a hop that did not ask for them.
 */
import { Readable } from 'node:stream';
import { encode, wrap } from 'nodemailer/lib/qp';
import { LineSplitter, type LinePiece } from './line-pieces.js';
import { delimiterKind, isPadding } from './mime-delimiter.js';

/** True when any byte is outside 7-bit ASCII. */
export function hasEightBit(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte >= 0x80) return true;
  return false;
}

/** Postfix's mime_nesting_limit: deeper parts are sent as they are. */
const MAX_DEPTH = 100;
/** A Content-Type or Content-Transfer-Encoding field longer than this is read only this far. */
const MAX_FIELD = 16 * 1024;
const QP_LINE = 76;
const CRLF = Buffer.from('\r\n');

/** For each entity (the message, its parts, in document order): its body has 8-bit bytes. */
export class EightBitParts {
  private bits = new Uint8Array(64);

  set(index: number): void {
    if (index >> 3 >= this.bits.length) {
      const grown = new Uint8Array(Math.max(this.bits.length * 2, (index >> 3) + 1));
      grown.set(this.bits);
      this.bits = grown;
    }
    this.bits[index >> 3] = (this.bits[index >> 3] ?? 0) | (1 << (index & 7));
  }

  has(index: number): boolean {
    return ((this.bits[index >> 3] ?? 0) & (1 << (index & 7))) !== 0;
  }
}

type Kind =
  /** Still in its header. */
  | 'header'
  /** A body that is converted when it has 8-bit bytes. */
  | 'leaf'
  /** A multipart body: its parts are entities of their own. */
  | 'multipart'
  /** message/rfc822 or message/global: its body is one entity. */
  | 'message'
  /** Base64 or quoted-printable already: sent as it is but for stray 8-bit bytes. */
  | 'opaque';

type Field = 'content-type' | 'content-transfer-encoding' | 'other';

interface Entity {
  readonly index: number;
  readonly depth: number;
  kind: Kind;
  /** The second pass rewrites this entity (its bit was set by the first). */
  readonly convert: boolean;
  /** The first Content-Type and Content-Transfer-Encoding fields, folded as they came. */
  contentType?: string;
  transferEncoding?: string;
  /** The field the header line under way belongs to. */
  field: Field;
  /** The field under way is a Content-Transfer-Encoding being replaced. */
  dropping: boolean;
  /** A multipart's delimiter ("--" + boundary) until its close delimiter. */
  delimiter?: Buffer;
  /** Quoted-printable of the line under way not yet written (shorter than a line). */
  carry: string;
  /** A body sent as it is but labelled quoted-printable: its stray 8-bit bytes become =XX. */
  quotedPrintable?: boolean;
  /** Quoted-printable masking: the end of a piece not yet decided (an "=" and what follows). */
  pending?: Buffer;
  /** Quoted-printable masking: the characters written on the output line under way. */
  column?: number;
}

/**
 * One pass over a message, fed line pieces. Without `convert` it records which entities have
 * 8-bit bodies; with it, it writes the 7-bit form of the message to `out`.
 */
class Walk {
  private readonly stack: Entity[] = [];
  private entities = 0;
  private readonly lines = new LineSplitter((piece) => {
    this.piece(piece);
  });

  constructor(
    private readonly eightBit: EightBitParts,
    private readonly out?: (bytes: Buffer | string) => void,
  ) {
    this.push(0);
  }

  write(chunk: Buffer): void {
    this.lines.write(chunk);
  }

  end(): void {
    this.lines.end();
  }

  private piece(piece: LinePiece): void {
    const { bytes, first } = piece;
    let kept = true;
    // A delimiter line is short: one longer than a piece is body text.
    if (first && piece.last && this.delimiter(bytes)) this.emit(bytes);
    else {
      const top = this.stack[this.stack.length - 1];
      if (top?.kind === 'header') kept = this.headerPiece(top, piece);
      else if (top?.kind === 'leaf' && top.convert && this.out) this.qpPiece(top, piece);
      // A leaf with 8-bit bytes is converted above, so only a preamble, an epilogue or an
      // opaque body can hold them here.
      else if (top?.kind === 'leaf' || !this.out) this.emit(bytes);
      else if (top?.quotedPrintable === true) this.emit(maskQuotedPrintable(top, piece));
      else this.emit(maskEightBit(bytes));
    }
    if (!this.out && hasEightBit(bytes)) this.markEightBit();
    if (piece.crlf && kept) this.emit(CRLF);
  }

  private push(depth: number): void {
    const index = this.entities++;
    const convert = this.out !== undefined && this.eightBit.has(index);
    this.stack.push({ index, depth, kind: 'header', convert, field: 'other', dropping: false, carry: '' });
  }

  private emit(bytes: Buffer | string): void {
    if (this.out && bytes.length > 0) this.out(bytes);
  }

  /**
   * A delimiter line of an enclosing multipart ends every entity inside it; the outermost
   * multipart whose delimiter the line is wins, as when parts are cut out top down. Says
   * whether the line is one.
   */
  private delimiter(line: Buffer): boolean {
    if (line[0] !== 0x2d) return false;
    for (const [at, multipart] of this.stack.entries()) {
      const kind = multipart.delimiter && delimiterKind(line, multipart.delimiter);
      if (kind === undefined) continue;
      this.stack.length = at + 1;
      if (kind === 'close') delete multipart.delimiter;
      else this.push(multipart.depth + 1);
      return true;
    }
    return false;
  }

  /** Writes a header piece unless it belongs to a field being replaced; says whether it did. */
  private headerPiece(entity: Entity, piece: LinePiece): boolean {
    const { bytes, first } = piece;
    if (first && piece.last && bytes.length === 0) {
      this.endHeader(entity);
      return true;
    }
    if (first && bytes[0] !== 0x20 && bytes[0] !== 0x09) {
      entity.field = fieldOf(bytes);
      entity.dropping = entity.convert && entity.field === 'content-transfer-encoding';
      if (entity.field === 'content-type' && entity.contentType !== undefined) entity.field = 'other';
      if (entity.field === 'content-transfer-encoding' && entity.transferEncoding !== undefined)
        entity.field = 'other';
    }
    if (entity.field !== 'other') {
      const text = (first ? '\r\n' : '') + bytes.toString('latin1');
      const key = entity.field === 'content-type' ? 'contentType' : 'transferEncoding';
      const sofar = entity[key];
      entity[key] = sofar === undefined ? text.slice(2) : (sofar + text).slice(0, MAX_FIELD);
    }
    if (entity.dropping) return false;
    this.emit(bytes);
    return true;
  }

  private endHeader(entity: Entity): void {
    const type = (fieldValue(entity.contentType) ?? 'text/plain').toLowerCase();
    const encoding = (fieldValue(entity.transferEncoding) ?? '7bit').toLowerCase();
    const nestable = entity.depth < MAX_DEPTH;
    const boundary = /boundary="?([^";]+)"?/i.exec(fieldValue(entity.contentType) ?? '')?.[1];
    const encoded = encoding === 'base64' || encoding === 'quoted-printable';
    if (type.startsWith('multipart/') && boundary !== undefined && nestable) {
      entity.kind = 'multipart';
      entity.delimiter = Buffer.from(`--${boundary}`, 'latin1');
    } else if ((type.startsWith('message/rfc822') || type.startsWith('message/global')) && nestable) {
      entity.kind = 'message';
    } else {
      // A multipart with no boundary or too deep is text to a reader: a leaf like any other.
      entity.kind = encoded ? 'opaque' : 'leaf';
    }
    if (entity.kind === 'opaque' && encoding === 'quoted-printable') entity.quotedPrintable = true;
    if (entity.convert && (entity.kind === 'leaf' || entity.kind === 'message'))
      this.emit(`Content-Transfer-Encoding: ${entity.kind === 'leaf' ? 'quoted-printable' : '7bit'}\r\n`);
    if (entity.kind === 'message') this.push(entity.depth + 1);
  }

  /** Quoted-printable, line by line: a hard line break stays CRLF, a long line gets soft breaks. */
  private qpPiece(entity: Entity, piece: LinePiece): void {
    const encoded = entity.carry + quotedPrintable(piece.bytes);
    if (piece.last) {
      entity.carry = '';
      // Wrapped as the line it is: wrap() breaks a string's final segment at its last space.
      this.emit(wrap(`${encoded}\r\n`, QP_LINE).slice(0, -2));
      return;
    }
    const wrapped = wrap(encoded, QP_LINE);
    // The last line may yet grow: keep it until the rest of the line is known.
    const lastBreak = wrapped.lastIndexOf('\n') + 1;
    entity.carry = wrapped.slice(lastBreak);
    this.emit(wrapped.slice(0, lastBreak));
  }

  /** 8-bit bytes here are in the body of every leaf and message that encloses this line. */
  private markEightBit(): void {
    for (const entity of this.stack)
      if (entity.kind === 'leaf' || entity.kind === 'message') this.eightBit.set(entity.index);
  }
}

/**
 * Quoted-printable of a line's bytes. A CR or LF inside a line is a bare one (CRLF ends the
 * line), so it is data and is encoded (RFC 2045 §6.7 (4)): left raw, a hop or a decoder would
 * take it for a line break.
 */
function quotedPrintable(bytes: Buffer): string {
  return encode(bytes).replace(/[\r\n]/g, (c) => (c === '\r' ? '=0D' : '=0A'));
}

/** The bytes with each 8-bit one as "?": where a reader ignores them (preamble, base64). */
function maskEightBit(bytes: Buffer): Buffer | string {
  if (!hasEightBit(bytes)) return bytes;
  let text = '';
  for (const byte of bytes) text += byte < 0x80 ? String.fromCharCode(byte) : '?';
  return text;
}

const EQUALS = 0x3d;
const CR = 0x0d;
const LF = 0x0a;
/** A CR or LF inside a line (CRLF ends the line, so any other is bare). */
const hasBareLineEnd = (bytes: Buffer): boolean => bytes.includes(CR) || bytes.includes(LF);
const isHex = (byte: number | undefined): boolean =>
  byte !== undefined && ((byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x66));

/**
 * A piece of a line of a body labelled quoted-printable, re-encoded so that it decodes to what a
 * lenient decoder read from it: each 8-bit byte as "=XX", a bare CR or LF as "=0D" or "=0A"
 * (left raw, a hop or a decoder would take it for a line break, as in an 8-bit part), a lone
 * "=" (a decoder keeps it) as "=3D", an "=XX" and a final soft break as they are, trailing
 * blanks (a decoder drops them) dropped; soft line breaks keep each line within 76 characters
 * and never split an "=XX". A whole line of 7-bit bytes with no bare CR or LF is left as it came.
 */
function maskQuotedPrintable(entity: Entity, piece: LinePiece): string | Buffer {
  const bytes = entity.pending ? Buffer.concat([entity.pending, piece.bytes]) : piece.bytes;
  delete entity.pending;
  if (piece.first && piece.last && !hasEightBit(bytes) && !hasBareLineEnd(bytes)) return bytes;
  // The end of the line decides what an "=" or a blank near it is: until it comes, keep them.
  let end = bytes.length;
  if (piece.last) {
    while (end > 0 && isPadding(bytes[end - 1])) end--;
  } else {
    // An "=" in the last two bytes may begin an "=XX" or a soft break that the next piece ends.
    if (bytes[bytes.length - 1] === EQUALS) end = bytes.length - 1;
    else if (bytes[bytes.length - 2] === EQUALS) end = bytes.length - 2;
    let blank = end;
    while (blank > 0 && isPadding(bytes[blank - 1])) blank--;
    if (end - blank < 1024) end = blank;
    if (end < bytes.length) entity.pending = Buffer.from(bytes.subarray(end));
  }
  let text = '';
  let column = entity.column ?? 0;
  const put = (token: string): void => {
    if (column + token.length > QP_LINE - 1) {
      text += '=\r\n';
      column = 0;
    }
    text += token;
    column += token.length;
  };
  for (let i = 0; i < end; i++) {
    const byte = bytes[i] ?? 0;
    if (byte === EQUALS && isHex(bytes[i + 1]) && isHex(bytes[i + 2])) {
      put(bytes.toString('latin1', i, i + 3));
      i += 2;
    } else if (byte === EQUALS && piece.last && i === end - 1) {
      // A soft line break (its trailing blanks were dropped above): it ends the line.
      text += '=';
    } else if (byte === EQUALS || byte >= 0x80 || byte === CR || byte === LF) {
      put(`=${byte.toString(16).toUpperCase().padStart(2, '0')}`);
    } else put(String.fromCharCode(byte));
  }
  entity.column = piece.last ? 0 : column;
  return text;
}

function fieldOf(line: Buffer): Field {
  const start = line.subarray(0, 32).toString('latin1').toLowerCase();
  if (start.startsWith('content-type:')) return 'content-type';
  if (start.startsWith('content-transfer-encoding:')) return 'content-transfer-encoding';
  return 'other';
}

/** A field's unfolded value, without its name. */
function fieldValue(field: string | undefined): string | undefined {
  if (field === undefined) return undefined;
  const unfolded = field.replace(/\r\n[ \t]+/g, ' ');
  return unfolded.slice(unfolded.indexOf(':') + 1).trim();
}

const asBuffer = (bytes: Buffer | string): Buffer =>
  typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;

/** The 7-bit form of a message held in memory (a small one: the bigger ones stream). */
export function toSevenBit(message: Buffer): Buffer {
  const eightBit = new EightBitParts();
  const plan = new Walk(eightBit);
  plan.write(message);
  plan.end();
  const out: Buffer[] = [];
  const convert = new Walk(eightBit, (bytes) => out.push(asBuffer(bytes)));
  convert.write(message);
  convert.end();
  return Buffer.concat(out);
}

/** The first pass: which parts of the message `input` streams have 8-bit bodies. */
export async function planSevenBit(input: AsyncIterable<Buffer>): Promise<EightBitParts> {
  const eightBit = new EightBitParts();
  const plan = new Walk(eightBit);
  for await (const chunk of input) plan.write(chunk);
  plan.end();
  return eightBit;
}

/** The second pass: the 7-bit form of the message `input` streams, as a stream. */
export function sevenBitStream(input: AsyncIterable<Buffer>, eightBit: EightBitParts): Readable {
  return Readable.from(
    (async function* () {
      let out: Buffer[] = [];
      const convert = new Walk(eightBit, (bytes) => out.push(asBuffer(bytes)));
      for await (const chunk of input) {
        convert.write(chunk);
        if (out.length > 0) yield Buffer.concat(out);
        out = [];
      }
      convert.end();
      if (out.length > 0) yield Buffer.concat(out);
    })(),
    { objectMode: false },
  );
}

/** The size of the 7-bit form, counted by a second pass that keeps nothing. */
export async function sevenBitSize(input: AsyncIterable<Buffer>, eightBit: EightBitParts): Promise<number> {
  let size = 0;
  // Quoted-printable and the fields added are ASCII: a character is a byte.
  const count = new Walk(eightBit, (bytes) => {
    size += bytes.length;
  });
  for await (const chunk of input) count.write(chunk);
  count.end();
  return size;
}
