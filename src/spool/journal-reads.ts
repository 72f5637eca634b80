import { close, open as openCallback, read as readCallback } from 'node:fs';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { segmentName } from './journal-names.js';
import {
  decodeRecordHeader,
  headerCrcSeed,
  RECORD_HEADER_BYTES,
  recordedCrc,
  recordIsWhole,
  RecordType,
} from './journal-record.js';
import { isErrno } from '../util/errno.js';

const openFd = promisify(openCallback);
const closeFd = promisify(close);
const readFd = promisify(readCallback);

/** Where a journaled message's payload (message, then trailer) lies. */
export interface JournalLocation {
  /** The message's queue id (the map's own key string, so no copy): where it moved, if it did. */
  readonly id: string;
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
}

/** What the reads ask of the journal they read. */
export interface ReadSource {
  /** Where a message's record is now: compaction may have moved it since a caller looked. */
  current(id: string): JournalLocation | undefined;
  /** Handles a record that does not read back as written; the error for the caller to throw. */
  damaged(location: JournalLocation): Promise<RecordDamagedError>;
  /** Whether the journal is closed: a read then gets a descriptor of its own. */
  closed(): boolean;
}

/**
 * The journal's read side: CRC-checked reads of records, through one descriptor per segment
 * shared by every reader (at most MAX_READERS open, least recently used closed first).
 */
export class JournalReads {
  /** In order of use, the least recently used first (see reader()). */
  private readonly readers = new Map<number, SegmentReader>();
  /** Closes of readers evicted past MAX_READERS still under way: close() waits for them. */
  private readonly evictions = new Set<Promise<void>>();

  constructor(
    private readonly segmentPath: (segment: number) => string,
    private readonly source: ReadSource,
  ) {}

  /** Reads payload bytes of a record into `buffer`; returns how many were read. */
  async read(location: JournalLocation, buffer: Buffer, position: number, length: number): Promise<number> {
    return (await this.readSpan(location, 0, buffer, position, length)).read;
  }

  /**
   * Reads bytes of a record, counting `position` from `before` bytes ahead of its payload (0,
   * or its header's size); returns how many were read, and the location they came from.
   */
  private async readSpan(
    location: JournalLocation,
    before: number,
    buffer: Buffer,
    position: number,
    length: number,
  ): Promise<{ read: number; from: JournalLocation }> {
    const wanted = Math.max(0, Math.min(length, before + location.length - position));
    // After close() (a test or the fixture looking at a stopped server's spool) a read gets a
    // descriptor of its own, closed when it is done: none is left for a close() already over.
    const { reader, evicted } = this.source.closed()
      ? {
          reader: { fd: openFd(this.segmentPath(location.segment), 'r'), users: 0, retired: true },
          evicted: undefined,
        }
      : this.reader(location.segment);
    reader.users += 1;
    try {
      // The descriptor this open pushed past MAX_READERS is closed before the read goes on, so
      // no more than MAX_READERS are ever open once reads settle.
      await evicted;
      let fd: number;
      try {
        fd = await reader.fd;
      } catch (error) {
        // Compaction copied the record forward and unlinked its segment between the caller's
        // lookup and this first read of it: read the copy.
        const moved = this.source.current(location.id);
        if (isErrno(error, 'ENOENT') && moved && moved.segment !== location.segment) {
          return await this.readSpan(moved, before, buffer, position, length);
        }
        throw error;
      }
      const start = location.offset - before + position;
      let filled = 0;
      while (filled < wanted) {
        const { bytesRead } = await readFd(fd, buffer, filled, wanted - filled, start + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return { read: filled, from: location };
    } finally {
      reader.users -= 1;
      if (reader.retired && reader.users === 0) await closeReader(reader);
    }
  }

  /**
   * A whole record's payload (message, then trailer), its CRC checked: one read of header and
   * payload together. A mismatch is damage on the disk (see RecordDamagedError): the segment
   * is copied to quarantine/ and the message dropped from the journal, as open does with
   * damage it finds, and the error is thrown; never are the damaged bytes returned.
   */
  async readWhole(location: JournalLocation): Promise<Buffer> {
    const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + location.length);
    const { read, from } = await this.readSpan(location, RECORD_HEADER_BYTES, record, 0, record.length);
    const header = record.subarray(0, RECORD_HEADER_BYTES);
    const payload = record.subarray(RECORD_HEADER_BYTES, read);
    if (read !== record.length || !isRecordOf(from, header) || !recordIsWhole(header, payload)) {
      throw await this.source.damaged(from);
    }
    return payload;
  }

  /**
   * A record's payload bytes as a stream, `size` of them from its start, its CRC checked over
   * the whole record (the trailer after the message too). The last chunk is held back until
   * the check has passed, so a reader never sees the message end when it is damaged: the
   * stream fails instead (and an SMTP client sending it never sends the final dot). A record
   * of up to STREAM_CHUNK bytes (every message the journal holds today) is one read.
   */
  async *stream(location: JournalLocation, size: number): AsyncGenerator<Buffer> {
    const total = RECORD_HEADER_BYTES + location.length;
    const messageEnd = RECORD_HEADER_BYTES + Math.min(size, location.length);
    let crc: number | undefined;
    let header: Buffer | undefined;
    let held: Buffer | undefined;
    // Where the bytes come from: the record's copy, if compaction moved it before the first read.
    let from = location;
    for (let position = 0; position < total;) {
      const chunk = Buffer.allocUnsafe(Math.min(STREAM_CHUNK, total - position));
      const span = await this.readSpan(from, RECORD_HEADER_BYTES, chunk, position, chunk.length);
      const read = span.read;
      from = span.from;
      if (read === 0) throw await this.source.damaged(from);
      const bytes = chunk.subarray(0, read);
      let payloadStart = 0;
      if (position === 0) {
        // A first chunk always holds the whole header (STREAM_CHUNK is far larger than it).
        header = Buffer.from(bytes.subarray(0, RECORD_HEADER_BYTES));
        if (!isRecordOf(from, header)) throw await this.source.damaged(from);
        crc = headerCrcSeed(header);
        payloadStart = RECORD_HEADER_BYTES;
      }
      crc = crc32(bytes.subarray(payloadStart), crc);
      const messageBytes = bytes.subarray(
        payloadStart,
        Math.max(payloadStart, Math.min(read, messageEnd - position)),
      );
      if (held) yield held;
      held = messageBytes.length > 0 ? messageBytes : undefined;
      position += read;
    }
    if (header === undefined || crc !== recordedCrc(header)) throw await this.source.damaged(from);
    if (held) yield held;
  }

  /**
   * The segment's shared descriptor, opened if need be; `evicted`, the close of the one that
   * an open pushed past MAX_READERS. The map is in order of use (a reader found is moved to
   * its end), so the one evicted is the least recently used, and a hot segment stays open.
   */
  private reader(segment: number): { reader: SegmentReader; evicted?: Promise<void> } {
    const found = this.readers.get(segment);
    if (found) {
      this.readers.delete(segment);
      this.readers.set(segment, found);
      return { reader: found };
    }
    const fd = openFd(this.segmentPath(segment), 'r');
    const opened: SegmentReader = { fd, users: 0, retired: false };
    fd.catch(() => {
      if (this.readers.get(segment) === opened) this.readers.delete(segment);
    });
    this.readers.set(segment, opened);
    // Bounded: a backlog spread over more segments than the process may open files (ulimit -n)
    // would otherwise end in EMFILE. The least recently used goes; a read under way finishes on it.
    if (this.readers.size <= MAX_READERS) return { reader: opened };
    const [oldest] = this.readers.keys();
    if (oldest === undefined) return { reader: opened };
    const evicted = this.retire(oldest);
    // close() waits for it too, so it never returns with a descriptor still open.
    this.evictions.add(evicted);
    void evicted.finally(() => this.evictions.delete(evicted));
    return { reader: opened, evicted };
  }

  /** Reads under way finish on the open descriptor (an unlinked file stays readable); the last closes it. */
  async retire(segment: number): Promise<void> {
    const reader = this.readers.get(segment);
    if (!reader) return;
    this.readers.delete(segment);
    reader.retired = true;
    if (reader.users === 0) await closeReader(reader);
  }

  /** Closes every descriptor (one a read is using, when that read is done) and waits for evictions. */
  async close(): Promise<void> {
    // A read under way keeps its descriptor: the last user closes it (a number closed under a
    // read could be reused by another file, and the read return its bytes).
    for (const reader of this.readers.values()) {
      reader.retired = true;
      if (reader.users === 0) await closeReader(reader);
    }
    this.readers.clear();
    await Promise.all(this.evictions);
  }
}

/** Whether `header` is a MESSAGE header for this location (the CRC is checked by the caller). */
function isRecordOf(location: JournalLocation, header: Buffer): boolean {
  const decoded = decodeRecordHeader(header);
  return (
    decoded?.type === RecordType.message && decoded.id === location.id && decoded.length === location.length
  );
}

/**
 * One descriptor per segment shared by every reader; closed when its segment goes and no read
 * is under way, or at close. A plain descriptor, not a FileHandle: a spool from inspect() is
 * never closed, and Node warns of each FileHandle it closes on garbage collection.
 */
interface SegmentReader {
  readonly fd: Promise<number>;
  users: number;
  retired: boolean;
}

async function closeReader(reader: SegmentReader): Promise<void> {
  const fd = await reader.fd.catch(() => undefined);
  if (fd !== undefined) await closeFd(fd).catch(() => undefined);
}

/**
 * Reader descriptors kept open at most: 64 segments are 1 GiB of journal, read without an open;
 * a backlog larger than that costs an open per segment read, not a descriptor per segment.
 */
const MAX_READERS = 64;

/** What a stream of a journaled message reads at a time. */
const STREAM_CHUNK = 64 * 1024;

/**
 * A journal record whose bytes are not those written (its CRC, header or length disagree):
 * bit rot or a stray write in a segment. `quarantined` is the copy of its segment, relative to
 * the spool (undefined when none was made: a read-only journal, or the copy failed).
 */
export class RecordDamagedError extends Error {
  constructor(
    readonly location: JournalLocation,
    readonly quarantined: string | undefined,
  ) {
    super(
      `queued message ${location.id} is damaged in the spool (journal segment ${segmentName(location.segment)}, ` +
        `offset ${String(location.offset)}: CRC mismatch)` +
        (quarantined ? `; its segment was copied to ${quarantined}` : ''),
    );
    this.name = 'RecordDamagedError';
  }
}
