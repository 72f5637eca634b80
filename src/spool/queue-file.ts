import type { FileHandle } from 'node:fs/promises';
import { parseEnvelope, type Envelope } from './envelope.js';

/**
 * One file per queued message: the message bytes as received (Received header first), then
 * its envelope as one JSON line, then a fixed-size footer giving the JSON's length:
 *
 *   <message: envelope.size bytes><envelope JSON>\n<FOOTER_TAG><8 hex digits>\n
 *
 * One file means one open, one sync and one rename per message, where a message and a
 * separate envelope file cost two of each. The message stays at offset 0, so a reader
 * streams bytes [0, size) and `head` or a mail client sees the message itself.
 * The footer is checked on every read: a file without one is not a queue file.
 */
const FOOTER_TAG = '\nmailwharf-envelope ';
const FOOTER_BYTES = Buffer.byteLength(FOOTER_TAG) + 8 + 1;
/** Reading this much of the tail gets footer and envelope in one read for all but huge envelopes. */
const TAIL_READ = 16 * 1024;

/** The bytes appended after the message: envelope JSON and footer. */
export function encodeTrailer(envelope: Envelope): Buffer {
  const json = Buffer.from(JSON.stringify(envelope));
  const footer = `${FOOTER_TAG}${json.length.toString(16).padStart(8, '0')}\n`;
  return Buffer.concat([json, Buffer.from(footer)]);
}

/** Bytes that end with a trailer: a queue file, or a journal record's payload (journal.ts). */
export interface TrailerSource {
  readonly size: number;
  /** Reads up to `length` bytes at `position` into `buffer` from its start; resolves with the count. */
  read(buffer: Buffer, length: number, position: number): Promise<number>;
}

/** Reads the envelope from an open queue file; undefined if the file is not one. */
export async function readTrailer(handle: FileHandle): Promise<Envelope | undefined> {
  const { size } = await handle.stat();
  return readTrailerFrom({
    size,
    read: async (buffer, length, position) => (await handle.read(buffer, 0, length, position)).bytesRead,
  });
}

/** Reads the envelope at the end of `source`; undefined if it has no trailer. */
export async function readTrailerFrom(source: TrailerSource): Promise<Envelope | undefined> {
  const fileSize = source.size;
  if (fileSize < FOOTER_BYTES) return undefined;
  const tailLength = Math.min(fileSize, TAIL_READ);
  let tail = Buffer.allocUnsafe(tailLength);
  await readExactly(source, tail, fileSize - tailLength);
  const footer = tail.subarray(tailLength - FOOTER_BYTES).toString('latin1');
  const digits = footer.slice(FOOTER_TAG.length, -1);
  if (!footer.startsWith(FOOTER_TAG) || !footer.endsWith('\n') || !/^[0-9a-f]{8}$/.test(digits))
    return undefined;
  const jsonLength = Number.parseInt(digits, 16);
  const messageSize = fileSize - FOOTER_BYTES - jsonLength;
  if (!Number.isSafeInteger(jsonLength) || messageSize < 0) return undefined;
  if (jsonLength + FOOTER_BYTES > tailLength) {
    tail = Buffer.allocUnsafe(jsonLength + FOOTER_BYTES);
    await readExactly(source, tail, messageSize);
  }
  const jsonEnd = tail.length - FOOTER_BYTES;
  const envelope = parseEnvelope(tail.subarray(jsonEnd - jsonLength, jsonEnd).toString('utf8'));
  // The size recorded must be the bytes that precede it, or the file is not what it claims.
  return envelope?.size === messageSize ? envelope : undefined;
}

async function readExactly(source: TrailerSource, buffer: Buffer, position: number): Promise<void> {
  let filled = 0;
  while (filled < buffer.length) {
    const bytesRead = await source.read(buffer.subarray(filled), buffer.length - filled, position + filled);
    if (bytesRead === 0) throw new Error('queue file shorter than its footer says');
    filled += bytesRead;
  }
}
