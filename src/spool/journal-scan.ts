import type { FileHandle } from 'node:fs/promises';
import {
  decodeRecordHeader,
  RECORD_HEADER_BYTES,
  RECORD_MAGIC,
  recordIsWhole,
  type RecordType,
} from './journal-record.js';

/** One whole record found in a segment; `offset` is where its payload starts. */
export interface ScannedRecord {
  readonly type: RecordType;
  readonly id: string;
  readonly offset: number;
  readonly length: number;
}

export interface SegmentScan {
  readonly records: ScannedRecord[];
  /** Where the last whole record ends: anything after it is a torn tail. */
  readonly end: number;
  /** Bytes that are not a whole record were followed by whole ones: damage, not a torn write. */
  readonly damaged: boolean;
}

/**
 * Reading a segment in large windows: a start with 100,000 small records stays at a few hundred
 * reads, where a read per record header was 100,000 thread-pool round trips. Every payload's
 * CRC is checked on the way, so damage in a scanned segment is found at open (a sealed segment
 * with a good index is not scanned; see Journal.scan).
 */
const WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * The records of one segment, in order. After a record whose bytes do not check out, the rest
 * is searched for a whole record; if one is found the segment is `damaged`, otherwise what
 * follows `end` is a torn tail (a write whose fdatasync never returned, so never acknowledged).
 *
 * `resync`: whether records found after a bad one are taken. Not in the last segment: a crash
 * tears only the group being written there, whose records were never acknowledged, and the
 * bytes that did reach disk may hold a message body with a whole record forged inside it (a
 * CRC has no secret). A sealed segment was fdatasynced whole before the next one began, so
 * damage there is the disk's, and the records after it were acknowledged.
 */
export async function scanSegment(handle: FileHandle, size: number, resync: boolean): Promise<SegmentScan> {
  const window = new Window(handle, size);
  const records: ScannedRecord[] = [];
  let position = 0;
  let end = 0;
  let damaged = false;
  while (position < size) {
    const record = await window.recordAt(position);
    if (record) {
      records.push(record);
      position = record.offset + record.length;
      end = position;
      continue;
    }
    const next = await window.nextRecordAfter(position);
    if (next === undefined) break;
    damaged = true;
    if (!resync) break;
    position = next;
  }
  return { records, end, damaged };
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
