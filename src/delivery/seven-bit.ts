/**
 * 8BITMIME downgrade (RFC 6152 §3, as Postfix does it): a message with 8-bit bodies going to
 * a server that does not offer 8BITMIME has each 8-bit leaf part re-encoded as
 * quoted-printable, recursing through multiparts and message/rfc822. Headers are left as they
 * are (8-bit headers need SMTPUTF8, which is decided elsewhere). Works on a whole message in
 * memory: only such messages to such servers pay for it.
 */
import { encode, wrap } from 'nodemailer/lib/qp';

const CRLF = Buffer.from('\r\n');

/** True when any byte is outside 7-bit ASCII. */
export function hasEightBit(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte >= 0x80) return true;
  return false;
}

export function toSevenBit(message: Buffer): Buffer {
  return convertEntity(message);
}

interface Parsed {
  readonly header: Buffer;
  readonly body: Buffer;
  readonly separator: Buffer;
}

function split(entity: Buffer): Parsed {
  if (entity.subarray(0, 2).equals(CRLF))
    return { header: Buffer.alloc(0), body: entity.subarray(2), separator: CRLF };
  const end = entity.indexOf('\r\n\r\n');
  if (end < 0) return { header: entity, body: Buffer.alloc(0), separator: Buffer.alloc(0) };
  return { header: entity.subarray(0, end + 2), body: entity.subarray(end + 4), separator: CRLF };
}

/** A header's unfolded value, or undefined. */
function headerValue(header: string, name: string): string | undefined {
  const unfolded = header.replace(/\r\n[ \t]+/g, ' ');
  const match = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(unfolded);
  return match?.[1]?.trim();
}

function convertEntity(entity: Buffer): Buffer {
  const { header, body, separator } = split(entity);
  const headerText = header.toString('latin1');
  const type = (headerValue(headerText, 'Content-Type') ?? 'text/plain').toLowerCase();
  const encoding = (headerValue(headerText, 'Content-Transfer-Encoding') ?? '7bit').toLowerCase();
  if (type.startsWith('multipart/')) {
    const boundary = /boundary="?([^";]+)"?/i.exec(headerValue(headerText, 'Content-Type') ?? '')?.[1];
    if (boundary === undefined) return entity;
    return Buffer.concat([header, separator, convertMultipart(body, boundary)]);
  }
  if (type.startsWith('message/rfc822') || type.startsWith('message/global')) {
    if (!hasEightBit(body)) return entity;
    return Buffer.concat([withEncoding(headerText, '7bit'), separator, convertEntity(body)]);
  }
  if (encoding === 'base64' || encoding === 'quoted-printable' || !hasEightBit(body)) return entity;
  const encoded = wrap(encode(body), 76);
  return Buffer.concat([
    withEncoding(headerText, 'quoted-printable'),
    separator,
    Buffer.from(encoded, 'latin1'),
  ]);
}

function convertMultipart(body: Buffer, boundary: string): Buffer {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const parts: Buffer[] = [];
  // Delimiter lines start a line: find "\r\n--boundary" (or at the very start).
  let position = body.subarray(0, delimiter.length).equals(delimiter) ? 0 : findDelimiter(body, delimiter, 0);
  if (position < 0) return body;
  parts.push(body.subarray(0, position)); // the preamble, as it is
  for (;;) {
    const lineEnd = body.indexOf(CRLF, position);
    if (lineEnd < 0) {
      parts.push(body.subarray(position));
      break;
    }
    const line = body.subarray(position, lineEnd);
    parts.push(line, CRLF);
    if (line.subarray(delimiter.length, delimiter.length + 2).toString('latin1') === '--') {
      parts.push(body.subarray(lineEnd + 2)); // the epilogue
      break;
    }
    const next = findDelimiter(body, delimiter, lineEnd + 2);
    const partEnd = next < 0 ? body.length : next;
    parts.push(convertEntity(body.subarray(lineEnd + 2, next < 0 ? body.length : next - 2)));
    if (next < 0) break;
    parts.push(CRLF);
    position = partEnd;
  }
  return Buffer.concat(parts);
}

/** Offset of the next delimiter line (after its leading CRLF), or -1. */
function findDelimiter(body: Buffer, delimiter: Buffer, from: number): number {
  const needle = Buffer.concat([CRLF, delimiter]);
  const found = body.indexOf(needle, Math.max(0, from - 2));
  return found < 0 ? -1 : found + 2;
}

function withEncoding(headerText: string, encoding: string): Buffer {
  // One entry per field, folded continuation lines kept inside it.
  const lines = headerText.split(/\r\n(?![ \t])/).filter((l) => l !== '');
  const kept = lines.filter((line) => !/^content-transfer-encoding:/i.test(line));
  kept.push(`Content-Transfer-Encoding: ${encoding}`);
  return Buffer.from(`${kept.join('\r\n')}\r\n`, 'latin1');
}
