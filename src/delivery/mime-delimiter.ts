/**
 * Whether a line is a multipart's boundary delimiter, exactly as RFC 2046 §5.1.1 writes it:
 * "--" boundary, then "--" for the close delimiter, then only transport padding (spaces and
 * tabs) before the CRLF. A line that merely starts with the delimiter ("--b12" for boundary
 * "b1") is body text: Postfix's mime_state matches by prefix, but mailparser and the RFC do not,
 * and the part a reader sees ends where they say.
 */

const DASH = 0x2d;
/** Transport padding (RFC 2046 §5.1.1): a space or a tab. */
export const isPadding = (byte: number | undefined): boolean => byte === 0x20 || byte === 0x09;

/**
 * The kind of delimiter `line` (without its CRLF) is for the multipart whose "--" + boundary
 * is `dashBoundary`, or undefined when it is none.
 */
export function delimiterKind(line: Buffer, dashBoundary: Buffer): 'delimiter' | 'close' | undefined {
  if (
    line.length < dashBoundary.length ||
    line.compare(dashBoundary, 0, dashBoundary.length, 0, dashBoundary.length) !== 0
  )
    return undefined;
  let end = line.length;
  while (end > dashBoundary.length && isPadding(line[end - 1])) end--;
  if (end === dashBoundary.length) return 'delimiter';
  if (end === dashBoundary.length + 2 && line[end - 2] === DASH && line[end - 1] === DASH) return 'close';
  return undefined;
}
