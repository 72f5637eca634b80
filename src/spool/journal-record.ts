import { crc32 } from 'node:zlib';

/**
 * One record of a journal segment (see journal.ts): a fixed header, then the payload.
 *
 *   0  magic "MWJ1"            4 bytes
 *   4  type                    1 byte   (RecordType)
 *   5  queue id                17 bytes, ASCII [0-9A-Z]
 *  22  zero                    2 bytes
 *  24  payload length          uint32 LE
 *  28  CRC-32                  uint32 LE, of header bytes 0..28 then the payload
 *
 * The CRC covers the header too, so a header torn or flipped mid-way (a garbage length, an id
 * half written) is never taken for a record. A MESSAGE's payload is exactly what a queue file
 * holds (message, envelope trailer; queue-file.ts), so one trailer reader serves both.
 */
export const RECORD_HEADER_BYTES = 32;
const MAGIC = Buffer.from('MWJ1', 'latin1');
const ID_BYTES = 17;
const CRC_OFFSET = 28;

export const RecordType = { message: 1, remove: 2 } as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

export interface RecordHeader {
  readonly type: RecordType;
  readonly id: string;
  readonly length: number;
  readonly crc: number;
}

/** The header for `payload` (the chunks as they will be written after it). */
export function encodeRecordHeader(type: RecordType, id: string, payload: readonly Buffer[]): Buffer {
  const header = Buffer.alloc(RECORD_HEADER_BYTES);
  MAGIC.copy(header, 0);
  header[4] = type;
  header.write(id, 5, ID_BYTES, 'latin1');
  const length = payload.reduce((sum, chunk) => sum + chunk.length, 0);
  header.writeUInt32LE(length, 24);
  let crc = crc32(header.subarray(0, CRC_OFFSET));
  for (const chunk of payload) crc = crc32(chunk, crc);
  header.writeUInt32LE(crc, CRC_OFFSET);
  return header;
}

/** The header at the start of `bytes` if it looks like one (its CRC is checked with the payload). */
export function decodeRecordHeader(bytes: Buffer): RecordHeader | undefined {
  if (bytes.length < RECORD_HEADER_BYTES || !bytes.subarray(0, 4).equals(MAGIC)) return undefined;
  const type = bytes[4];
  if (type !== RecordType.message && type !== RecordType.remove) return undefined;
  const id = bytes.toString('latin1', 5, 5 + ID_BYTES);
  if (!/^[0-9A-Z]{17}$/.test(id) || bytes[22] !== 0 || bytes[23] !== 0) return undefined;
  return { type, id, length: bytes.readUInt32LE(24), crc: bytes.readUInt32LE(CRC_OFFSET) };
}

/** Whether `payload` is the one `header` (the raw header bytes) was written with. */
export function recordIsWhole(header: Buffer, payload: Buffer): boolean {
  const expected = header.readUInt32LE(CRC_OFFSET);
  return crc32(payload, crc32(header.subarray(0, CRC_OFFSET))) === expected;
}

export const RECORD_MAGIC = MAGIC;

/** The CRC of a record's header bytes before its CRC field: the seed a streamed check continues from. */
export function headerCrcSeed(header: Buffer): number {
  return crc32(header.subarray(0, CRC_OFFSET));
}

/** The CRC a record's header says its header and payload have. */
export function recordedCrc(header: Buffer): number {
  return header.readUInt32LE(CRC_OFFSET);
}

/** The payload length a header's bytes say, whether or not the rest of the header checks out. */
export function recordLengthField(header: Buffer): number {
  return header.readUInt32LE(24);
}

/**
 * A REMOVE record (a header alone, 32 bytes) with one flipped bit, put right: the one bit whose
 * flip makes its CRC match, if flipping it also leaves a well-formed REMOVE header. A CRC-32 over
 * 256 bits has a Hamming distance of 6, so a single flipped bit has exactly one such position
 * and up to 4 flipped bits are never mistaken for one; a record with more damage than that
 * (a sector of zeros or garbage) is not put right, it fails the header's own checks.
 * A REMOVE is the one record whose loss brings a message back (see Journal.scan), so it is
 * worth the 256 CRCs of 28 bytes, and only when its CRC has already failed.
 */
export function repairRemoveRecord(bytes: Buffer): RecordHeader | undefined {
  if (bytes.length < RECORD_HEADER_BYTES) return undefined;
  const record = Buffer.from(bytes.subarray(0, RECORD_HEADER_BYTES));
  let found: RecordHeader | undefined;
  for (let bit = 0; bit < RECORD_HEADER_BYTES * 8; bit++) {
    const at = bit >> 3;
    const mask = 1 << (bit & 7);
    record[at] = (record[at] ?? 0) ^ mask;
    const header = decodeRecordHeader(record);
    const whole =
      header?.type === RecordType.remove && header.length === 0 && recordIsWhole(record, Buffer.alloc(0));
    record[at] = (record[at] ?? 0) ^ mask;
    if (!whole) continue;
    if (found) return undefined; // two candidates: not one flipped bit
    found = header;
  }
  return found;
}
