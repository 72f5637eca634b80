import type { FileHandle } from 'node:fs/promises';
import {
  decodeRecordHeader,
  RECORD_HEADER_BYTES,
  RECORD_MAGIC,
  recordIsWhole,
  recordLengthField,
  repairRemoveRecord,
  type RecordType,
} from './journal-record.js';

/** One whole record found in a segment; `offset` is where its payload starts. */
export interface ScannedRecord {
  readonly type: RecordType;
  readonly id: string;
  readonly offset: number;
  readonly length: number;
}

/** A record that does not read whole, with whole records after it (damage, not a torn tail). */
export interface DamagedRecord {
  /** Where its header starts. */
  readonly at: number;
  /** What its header claims, when the header passes its own checks; not proof (its CRC failed). */
  readonly claimed?: { readonly type: RecordType; readonly id: string };
  /** A REMOVE put right by flipping back the one bit its CRC points at: taken as written. */
  readonly repaired: boolean;
}

export interface SegmentScan {
  readonly records: ScannedRecord[];
  /** Where the last whole record ends: anything after it is a torn tail. */
  readonly end: number;
  /** Bytes that are not a whole record were followed by whole ones: damage, not a torn write. */
  readonly damaged: boolean;
  /** Each bad record found before the end, in order. */
  readonly damages: DamagedRecord[];
}

/**
 * Reading a segment in large windows: a start with 100,000 small records stays at a few hundred
 * reads, where a read per record header was 100,000 thread-pool round trips. Every payload's
 * CRC is checked on the way, so damage in a scanned segment is found at open (a sealed segment
 * with a good index is not scanned; see Journal.scan).
 */
const WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * The records of one segment, in order. A record that does not check out is handled in this
 * order:
 *  1. a 32-byte REMOVE one bit away from whole is put right (CRC-32 over 256 bits has a Hamming
 *     distance of 6, so one flipped bit is located without doubt; see repairRemoveRecord);
 *  2. its header's length field is followed when a whole record starts where it points and no
 *     whole record starts before that: the bad record is skipped as damage and the scan goes on
 *     from there. The writer put that record there, so it is never one forged inside a message
 *     body; and a length made longer by the damage, landing on a later boundary, is refused
 *     (the records it would skip are whole);
 *  3. otherwise the rest is searched for a whole record: none, and what follows `end` is a torn
 *     tail (a write whose fdatasync never returned, so never acknowledged); one, and the
 *     segment is `damaged`.
 *
 * `resync`: whether records found by that search (3) are taken. Not in the last segment: a
 * crash tears only the group being written there, whose records were never acknowledged, and
 * the bytes that did reach disk may hold a message body with a whole record forged inside it
 * (a CRC has no secret). A sealed segment was fdatasynced whole before the next one began, so
 * damage there is the disk's, and the records after it were acknowledged.
 */
export async function scanSegment(handle: FileHandle, size: number, resync: boolean): Promise<SegmentScan> {
  const window = new Window(handle, size);
  const records: ScannedRecord[] = [];
  const damages: DamagedRecord[] = [];
  let position = 0;
  let end = 0;
  while (position < size) {
    const record = await window.recordAt(position);
    if (record) {
      records.push(record);
      position = record.offset + record.length;
      end = position;
      continue;
    }
    const repaired = await window.repairedRemoveAt(position);
    if (repaired) {
      records.push(repaired);
      damages.push({ at: position, claimed: { type: repaired.type, id: repaired.id }, repaired: true });
      position = end = repaired.offset;
      continue;
    }
    const claimed = await window.claimedAt(position);
    const next = await window.nextRecordAfter(position);
    // The length field is trusted only if the nearest whole record is where it points. A bad
    // record's length is unproven, and is often the damaged part: a flipped bit adds 2^k, and
    // landing on a later record boundary skipped the whole records in between (a REMOVE, so a
    // removed message came back; or an acknowledged message, dropped). A whole record inside
    // what the length frames is either such a skip or a record forged in a message body.
    const skipTo = await window.wholeRecordByLength(position);
    if (skipTo !== undefined && skipTo === next) {
      damages.push({ at: position, ...(claimed ? { claimed } : {}), repaired: false });
      position = skipTo;
      continue;
    }
    if (next === undefined) break;
    damages.push({ at: position, ...(claimed ? { claimed } : {}), repaired: false });
    if (!resync) break;
    position = next;
  }
  return { records, end, damaged: damages.length > 0, damages };
}

class Window {
  private start = 0;
  private bytes = Buffer.alloc(0);

  constructor(
    private readonly handle: FileHandle,
    private readonly size: number,
  ) {}

  async recordAt(position: number): Promise<ScannedRecord | undefined> {
    if (position + RECORD_HEADER_BYTES > this.size) return undefined;
    const headerBytes = await this.read(position, RECORD_HEADER_BYTES);
    const header = decodeRecordHeader(headerBytes);
    if (!header) return undefined;
    const offset = position + RECORD_HEADER_BYTES;
    if (offset + header.length > this.size) return undefined;
    // Copied: the next read may replace the window under it.
    const headerCopy = Buffer.from(headerBytes);
    if (!recordIsWhole(headerCopy, await this.read(offset, header.length))) return undefined;
    return { type: header.type, id: header.id, offset, length: header.length };
  }

  /** The REMOVE record at `position` with one bit put right, if that makes it whole. */
  async repairedRemoveAt(position: number): Promise<ScannedRecord | undefined> {
    if (position + RECORD_HEADER_BYTES > this.size) return undefined;
    const repaired = repairRemoveRecord(await this.read(position, RECORD_HEADER_BYTES));
    return (
      repaired && { type: repaired.type, id: repaired.id, offset: position + RECORD_HEADER_BYTES, length: 0 }
    );
  }

  /** What the header at `position` claims, if it passes its own checks (its CRC is not checked). */
  async claimedAt(position: number): Promise<{ type: RecordType; id: string } | undefined> {
    if (position + RECORD_HEADER_BYTES > this.size) return undefined;
    const header = decodeRecordHeader(await this.read(position, RECORD_HEADER_BYTES));
    return header && { type: header.type, id: header.id };
  }

  /**
   * Where the record at `position` ends by its length field, if a whole record starts there
   * (the length is read even when other header bytes are bad: the writer's boundary is what
   * counts, and a whole record at the end of it is the proof).
   */
  async wholeRecordByLength(position: number): Promise<number | undefined> {
    if (position + RECORD_HEADER_BYTES > this.size) return undefined;
    const next =
      position + RECORD_HEADER_BYTES + recordLengthField(await this.read(position, RECORD_HEADER_BYTES));
    if (next >= this.size) return undefined;
    return (await this.recordAt(next)) ? next : undefined;
  }

  /** The position of the next whole record after `position`, if there is one. */
  async nextRecordAfter(position: number): Promise<number | undefined> {
    let from = position + 1;
    while (from < this.size) {
      const span = Math.min(WINDOW_BYTES, this.size - from);
      const found = (await this.read(from, span)).indexOf(RECORD_MAGIC);
      if (found < 0) {
        // The magic may straddle the window's edge.
        from += Math.max(1, span - RECORD_MAGIC.length + 1);
        continue;
      }
      if (await this.recordAt(from + found)) return from + found;
      from += found + 1;
    }
    return undefined;
  }

  /** `length` bytes at `position`, from the window when it holds them. */
  private async read(position: number, length: number): Promise<Buffer> {
    if (position < this.start || position + length > this.start + this.bytes.length) {
      const span = Math.min(Math.max(length, WINDOW_BYTES), this.size - position);
      const bytes = Buffer.allocUnsafe(span);
      let filled = 0;
      while (filled < span) {
        const { bytesRead } = await this.handle.read(bytes, filled, span - filled, position + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      this.start = position;
      this.bytes = bytes.subarray(0, filled);
    }
    const from = position - this.start;
    return this.bytes.subarray(from, Math.min(from + length, this.bytes.length));
  }
}
