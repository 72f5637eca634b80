/**
 * The parse of a simple message without mailparser's streams: one text/plain part, 7-bit or
 * 8-bit transfer encoding, every byte ASCII, header lines ending in CRLF and holding no
 * encoded words. Such a message needs none of mailparser's MIME machinery, yet that machinery
 * (a splitter, a decoder and a Transform per node, a turn of the event loop per chunk) was
 * the largest part of the sink's cost per message at intake (~0.2–0.4 ms of ~1 ms).
 *
 * The result carries only the fields `summarize` reads, each built as mailparser builds it
 * (mailparser 3.14: MailParser.processHeaders, mailsplit's Headers, the text node's
 * `toString().replace(/\r?\n/g, '\n')`), addresses through mailparser's own
 * parseAddressHeader. Anything else, or anything this cannot tell for sure, returns
 * undefined and goes to mailparser. test/unit/sink/simple-message.test.ts holds it to
 * mailparser's summary, field for field, over a table and over generated messages.
 */
import type { AddressObject, ParsedMail, parseAddressHeader as ParseAddressHeader } from 'mailparser';

/**
 * Larger header blocks go to mailparser, which has its own limit there: mailsplit counts each
 * line as at least 64 bytes against 1 MiB, so 64 KiB of short lines can exceed it. 64 KiB and
 * 1,000 lines stay far below (at most 128 KiB counted).
 */
const HEADER_BYTES_AT_MOST = 64 * 1024;
const HEADER_LINES_AT_MOST = 1000;

function ascii(bytes: Buffer, start: number): boolean {
  for (let index = start; index < bytes.length; index++) if ((bytes[index] ?? 0) > 0x7f) return false;
  return true;
}

/** The charsets mailparser reads as UTF-8 without a decoder (the same normalisation). */
const PLAIN_CHARSETS = new Set(['ascii', 'usascii', 'utf8']);
/** `text/plain`, with at most a charset parameter (format=flowed and the like change the text). */
const TEXT_PLAIN = /^text\/plain\s*(?:;\s*charset\s*=\s*(?:"([A-Za-z0-9_-]+)"|([A-Za-z0-9_-]+))\s*;?\s*)?$/i;
const IDENTITY_ENCODINGS = new Set(['7bit', '8bit', 'binary']);
/** A header name as RFC 5322 allows it (printable ASCII but the colon, no space). */
const FIELD_NAME = /^[!-9;-~]+$/;

interface HeaderLine {
  readonly key: string;
  readonly line: string;
}

/** mailsplit's logical lines: a line starting with space or tab continues the one before. */
function headerLines(block: string): HeaderLine[] | undefined {
  const raw = block.split('\r\n');
  if (raw.length > HEADER_LINES_AT_MOST) return undefined;
  const first = raw[0] ?? '';
  // An mbox or HTTP preamble, or a block starting with a continuation: mailparser's business.
  if (first === '' || /^(?:From|POST) /i.test(first) || first.startsWith(' ') || first.startsWith('\t'))
    return undefined;
  const lines: { key: string; line: string }[] = [];
  for (const text of raw) {
    const last = lines.at(-1);
    if (text.startsWith(' ') || text.startsWith('\t')) {
      if (!last) return undefined;
      last.line += `\r\n${text}`;
      continue;
    }
    const colon = text.indexOf(':');
    const name = text.slice(0, colon);
    if (colon < 1 || !FIELD_NAME.test(name)) return undefined;
    lines.push({ key: name.toLowerCase(), line: text });
  }
  return lines;
}

/** libmime.decodeHeader's value: folding taken out, trimmed. */
function valueOf(line: string): string {
  const unfolded = line.replace(/(?:\r?\n|\r)[ \t]*/g, ' ').trim();
  return unfolded.slice(unfolded.indexOf(':') + 1).trim();
}

/** mailparser's ensureMessageIDFormat. */
function messageIdFormat(value: string): string {
  return `${value.startsWith('<') ? '' : '<'}${value}${value.endsWith('>') ? '' : '>'}`;
}

/** Headers mailparser keeps the first value of (of those read here). */
const SINGLE = new Set(['from', 'reply-to', 'subject', 'date', 'message-id']);
const ADDRESS_FIELDS = new Set(['from', 'to', 'cc', 'bcc', 'reply-to']);

/**
 * The parse of `bytes` as mailparser would give it for the index, or undefined when the
 * message is not one this reads (mailparser then parses it).
 */
export function parseSimple(
  bytes: Buffer,
  parseAddresses: typeof ParseAddressHeader,
): ParsedMail | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end <= 0 || end > HEADER_BYTES_AT_MOST) return undefined;
  if (!headerBytesFolded(bytes, end)) return undefined;
  if (!ascii(bytes, end + 4)) return undefined;
  const block = bytes.toString('latin1', 0, end);
  // Encoded words (RFC 2047) are mailparser's to decode.
  if (block.includes('=?')) return undefined;
  const lines = headerLines(block);
  if (!lines) return undefined;
  const values = new Map<string, unknown[]>();
  let contentType: string | undefined;
  let encoding: string | undefined;
  for (const { key, line } of lines) {
    const value = valueOf(line);
    switch (key) {
      case 'content-type':
        if (contentType !== undefined) return undefined;
        contentType = value;
        continue;
      case 'content-transfer-encoding':
        if (encoding !== undefined) return undefined;
        encoding = value;
        continue;
      // A disposition (the root as an attachment) or a signature's tag list: mailparser's.
      case 'content-disposition':
      case 'dkim-signature':
        return undefined;
    }
    let parsed: unknown = value;
    if (ADDRESS_FIELDS.has(key)) parsed = parseAddresses(value);
    else if (key === 'date') {
      const date = new Date(value);
      // mailparser puts the time of the parse in place of a date it cannot read: not ours to copy.
      if (Number.isNaN(date.getTime())) return undefined;
      parsed = date;
    } else if (key === 'message-id') parsed = value === '' ? '' : messageIdFormat(value);
    // mailparser keeps a value only if it is truthy (an empty header is as none).
    if (parsed === '') continue;
    const list = values.get(key);
    if (list) list.push(parsed);
    else values.set(key, [parsed]);
  }
  if (contentType !== undefined) {
    const match = TEXT_PLAIN.exec(contentType);
    if (!match) return undefined;
    const charset = match[1] ?? match[2];
    if (charset !== undefined && !PLAIN_CHARSETS.has(charset.toLowerCase().replace(/[^a-z0-9]+/g, '')))
      return undefined;
  }
  if (encoding !== undefined && !IDENTITY_ENCODINGS.has(encoding.toLowerCase())) return undefined;
  const headers = new Map<string, unknown>();
  for (const [key, list] of values) headers.set(key, SINGLE.has(key) || list.length === 1 ? list[0] : list);
  const text = bytes.toString('utf8', end + 4).replace(/\r?\n/g, '\n');
  const parse: { -readonly [K in keyof ParsedMail]: ParsedMail[K] } = {
    headers: headers as ParsedMail['headers'],
    headerLines: [],
    attachments: [],
    html: false,
  };
  const subject = headers.get('subject');
  if (typeof subject === 'string') parse.subject = subject;
  const date = headers.get('date');
  if (date instanceof Date) parse.date = date;
  const messageId = headers.get('message-id');
  if (typeof messageId === 'string') parse.messageId = messageId;
  const addresses = (key: string) => headers.get(key) as AddressObject | AddressObject[] | undefined;
  // From and Reply-To are kept once (SINGLE).
  const from = headers.get('from') as AddressObject | undefined;
  if (from) parse.from = from;
  const to = addresses('to');
  if (to) parse.to = to;
  const cc = addresses('cc');
  if (cc) parse.cc = cc;
  const bcc = addresses('bcc');
  if (bcc) parse.bcc = bcc;
  const replyTo = headers.get('reply-to') as AddressObject | undefined;
  if (replyTo) parse.replyTo = replyTo;
  if (text !== '') parse.text = text;
  return parse;
}

/** Printable ASCII apart from the CRLFs between lines (a bare CR or LF is mailparser's). */
function headerBytesFolded(bytes: Buffer, end: number): boolean {
  for (let index = 0; index < end; index++) {
    const byte = bytes[index] ?? 0;
    if (byte === 0x0d) {
      if (bytes[index + 1] !== 0x0a) return false;
      index++;
      continue;
    }
    if (byte === 0x0a || (byte < 0x20 && byte !== 0x09) || byte > 0x7e) return false;
  }
  return true;
}
