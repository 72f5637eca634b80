import { constants } from 'node:fs';
import { open, readFile, rename, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { DirectorySync, makeDirectoryDurably } from './dir-sync.js';
import { realFiles, type JournalFiles } from './journal-files.js';
import { encodeRecordHeader, RECORD_HEADER_BYTES, recordLengthField, RecordType } from './journal-record.js';
import { decodeSegmentIndex, encodeSegmentIndex } from './journal-index.js';
import { indexName, listNames, segmentName, segmentNumbers, STAGED_INDEX_FILE } from './journal-names.js';
import { JournalQuarantine } from './journal-quarantine.js';
import { JournalReads, RecordDamagedError, type JournalLocation } from './journal-reads.js';
import {
  scanSegment,
  type DamagedRecord as ScanDamage,
  type ScannedRecord,
  type SegmentScan,
} from './journal-scan.js';
import { writeAll } from './spool-file.js';
import { isErrno } from '../util/errno.js';

export { segmentName } from './journal-names.js';
export { RecordDamagedError, type JournalLocation } from './journal-reads.js';

/**
 * A segment is sealed and a new one started once it holds this much. Open scans the head
 * whole (sealed ones by their index, journal-index.ts), so this bounds the work before ready;
 * a rotation costs a create and a directory fsync, once per ~4,000 small messages.
 */
export const SEGMENT_BYTES = 16 * 1024 * 1024;
/** The oldest sealed segment is copied forward once its live bytes fall under this share of it. */
const COMPACT_BELOW = 0.25;

interface SegmentUse {
  live: number;
  liveBytes: number;
  size: number;
}

interface Pending {
  readonly header: Buffer;
  readonly payload: readonly Buffer[];
  readonly type: RecordType;
  readonly id: string;
  /** For a copy made by compaction: the location it replaces, if that is still current. */
  readonly replaces?: JournalLocation;
  readonly durable: boolean;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The append-only journal of small messages: `journal/NNNNNNNNNN.seg`, records as in
 * journal-record.ts. It exists for the cost of a commit: a queue file is an open(O_CREAT),
 * a write, a close, a rename and a directory fsync per message (the create alone ~1.2 ms of
 * system CPU on ext4); a record is a share of one writev and one fdatasync on a file that
 * stays open.
 *
 * Group commit: records that arrive while a write+fdatasync runs go together in the next
 * one, and a caller resolves only after an fdatasync that started after its record was
 * written. The location map (id -> record) is updated then, so a reader never sees a message
 * that is not durable, and the spool's commit listeners run before the 250 as before.
 *
 * A removal appends a REMOVE record; it is made durable at once only when asked (a delivery
 * recorded), otherwise it rides the next fdatasync. A segment is unlinked once none of its
 * messages is live and every older one is gone, so no REMOVE record is dropped while the
 * message it kills survives; when the oldest segment is mostly dead, its live records are
 * copied forward to the head first, so one long-deferred message cannot keep it forever.
 */
export class Journal {
  private readonly locations = new Map<string, JournalLocation>();
  private readonly segments = new Map<number, SegmentUse>();
  private readonly reads: JournalReads;
  private readonly quarantine: JournalQuarantine;
  private readonly dirSync: DirectorySync;
  private head = 0;
  private headLength = 0;
  private headFd: number | undefined;
  /** Every record in the head, for its index when it is sealed. */
  private headRecords: ScannedRecord[] = [];
  private indexing: Promise<void> = Promise.resolve();
  /** Bytes written to the head since its last fdatasync (REMOVE records that rode along). */
  private headUnsynced = false;
  /** How much of the head the last fdatasync that returned covers. */
  private headSyncedLength = 0;
  /**
   * Ids whose REMOVE records rode along in a head left when its fdatasync failed: written again,
   * first thing, in the next segment's next group (see openHead).
   */
  private carried: string[] = [];
  /** The head's tail may hold a failed write: the next write starts a new segment. */
  private headSuspect = false;
  /** Whether the head segment's directory entry is known durable (see headFor). */
  private headNameDurable = true;
  private closed = false;
  private queue: Pending[] = [];
  private writing: Promise<void> | undefined;
  private reclaiming: Promise<void> = Promise.resolve();
  /** During open: ids of bad MESSAGE records with no REMOVE found after them (yet). */
  private readonly damagedAtOpen = new Set<string>();
  /** The sealed segment scrub checked last; the next call checks the one after it. */
  private scrubbed = 0;
  /** fdatasyncs of segment files so far (the group commit's measure, read by tests). */
  fdatasyncs = 0;
  /**
   * Told of each message the journal itself removed because its record is damaged (a read,
   * the scrub, compaction), after its REMOVE record: set by the Spool (Spool.onDamagedRemoved).
   * Called synchronously; it must not throw, nor wait for the read that found the damage.
   */
  onDamagedRemoved: ((id: string) => void) | undefined;

  private constructor(
    readonly dir: string,
    private readonly writer: boolean,
    private readonly segmentBytes: number,
    quarantineDir: string,
    private readonly files: JournalFiles,
  ) {
    this.dirSync = new DirectorySync(dir, files);
    this.quarantine = new JournalQuarantine(quarantineDir, files, (segment) => this.segmentPath(segment));
    this.reads = new JournalReads((segment) => this.segmentPath(segment), {
      current: (id) => this.locations.get(id),
      damaged: (location) => this.damaged(location),
      closed: () => this.closed,
    });
  }

  /**
   * Reads every segment. A writer (Spool.open, under the spool's lock) truncates a torn tail of
   * the last segment and copies a damaged segment to `quarantine` (the readable records are
   * kept); a reader (the queue CLI beside a running server) changes nothing. `files`: the write
   * side's file operations (journal-files.ts), node:fs unless a test injects failures.
   */
  static async open(
    dir: string,
    options: { writer: boolean; quarantineDir: string; segmentBytes?: number; files?: JournalFiles },
  ): Promise<{ journal: Journal } & JournalOpenReport> {
    const files = options.files ?? realFiles;
    const journal = new Journal(
      dir,
      options.writer,
      options.segmentBytes ?? SEGMENT_BYTES,
      options.quarantineDir,
      files,
    );
    const quarantined: string[] = [];
    if (options.writer) await makeDirectoryDurably(files, dir);
    const names = await listNames(dir);
    // A crash while an index was written leaves its staging file; the index is written again at
    // the next rotation or scan, so the leftover is only clutter (one per crash).
    if (options.writer) {
      for (const name of names.filter((n) => STAGED_INDEX_FILE.test(n))) await files.unlink(join(dir, name));
      // So is a quarantine copy killed before it was linked: the damage it was for is found again.
      await journal.quarantine.removeStaged();
    }
    const numbers = segmentNumbers(names).sort((a, b) => a - b);
    const damages: DamagedRecord[] = [];
    for (const [index, segment] of numbers.entries()) {
      const found = await journal.scan(segment, index === numbers.length - 1);
      if (found.copy !== undefined) quarantined.push(found.copy);
      damages.push(...found.damages);
    }
    return { journal, quarantined, ...journal.afterDamage(damages) };
  }

  /**
   * What the bad records open skipped mean for the queue, once every segment is read (a REMOVE
   * kills a message of an earlier segment). A bad MESSAGE record whose id is not queued from a
   * whole record elsewhere is a message lost to damage, as a read that finds damage loses it:
   * its id is reported, for the views to drop it too (Spool.onDamagedRemoved). A bad REMOVE
   * that could not be put right lets its message come back: reported by the id its header
   * claims when that one is queued; `unnamedRemoves` counts those whose id is not legible.
   */
  private afterDamage(
    damages: readonly DamagedRecord[],
  ): Pick<JournalOpenReport, 'lost' | 'resurrected' | 'unnamedRemoves'> {
    const lost: string[] = [];
    const resurrected: string[] = [];
    let unnamedRemoves = 0;
    for (const damage of damages) {
      if (damage.repaired) continue;
      const claimed = damage.claimed;
      if (claimed?.type === RecordType.message) {
        if (this.damagedAtOpen.has(claimed.id) && !this.locations.has(claimed.id)) lost.push(claimed.id);
      } else if (claimed?.type === RecordType.remove) {
        if (this.locations.has(claimed.id)) resurrected.push(claimed.id);
      } else if (claimed === undefined && damage.length === 0) {
        unnamedRemoves += 1;
      }
    }
    this.damagedAtOpen.clear();
    return { lost, resurrected, unnamedRemoves };
  }

  /**
   * Reads one segment into the map: the quarantine copy made of it (relative to the spool) if it
   * was damaged, and the bad records skipped.
   */
  private async scan(segment: number, last: boolean): Promise<{ copy?: string; damages: DamagedRecord[] }> {
    if (!last) {
      const indexed = await this.readIndex(segment);
      if (indexed) {
        this.apply(segment, indexed.records, indexed.size);
        return { damages: [] };
      }
    }
    let handle: FileHandle;
    try {
      handle = await open(this.segmentPath(segment), this.writer && last ? 'r+' : 'r');
    } catch (error) {
      // Unlinked by the server since the listing (a reader beside it): nothing left to read.
      if (!this.writer && isErrno(error, 'ENOENT')) return { damages: [] };
      throw error;
    }
    try {
      const { size } = await handle.stat();
      const scan = await scanSegment(handle, size, !last);
      // A REMOVE after a bad MESSAGE record (here or in a later segment) means its message was
      // done with before the damage could matter: not reported as lost (see afterDamage).
      for (const damage of scan.damages) {
        if (!damage.repaired && damage.claimed?.type === RecordType.message)
          this.damagedAtOpen.add(damage.claimed.id);
      }
      this.apply(segment, scan.records, scan.end);
      // Read before the head is cut below: the cut may take the bad record's header with it.
      const damages = await Promise.all(
        scan.damages.map(async (damage) => ({ ...damage, length: await recordLengthAt(handle, damage.at) })),
      );
      const torn = scan.end < size;
      // Damage inside a segment, or a torn end of one already sealed: bytes that were
      // acknowledged may be in it. A copy goes to quarantine/ for an operator (before the head
      // is cut); what reads whole is kept, in the head too: a bad record there with whole ones
      // after it (found by its length field, journal-scan.ts) is rot, or a torn group whose
      // later pages reached the disk (then it was never acknowledged, and a message after it
      // may be delivered twice, never lost). Its index (and, for the head, a new segment at
      // the next write) keeps the next open from reporting it again.
      const quarantine = this.writer && (scan.damaged || (torn && !last));
      let copy: string | undefined;
      if (quarantine) {
        // Durable before the head is cut below: the copy is then the only one of the cut bytes.
        copy = await this.quarantine.once(
          segment,
          scan.damages.map((damage) => damage.at),
        );
        if (last) this.headSuspect = true;
      }
      // Never acknowledged (its fdatasync did not return): cut off, so appends follow whole records.
      if (this.writer && last && torn) await handle.truncate(scan.end);
      if (last) {
        this.head = segment;
        this.headLength = scan.end;
        this.headSyncedLength = scan.end;
        this.headRecords = scan.records;
      }
      if (this.writer && (!last || quarantine))
        await this.writeIndex(segment, scan.records, last ? scan.end : size);
      return { ...(copy === undefined ? {} : { copy }), damages };
    } finally {
      await handle.close();
    }
  }

  private apply(segment: number, records: readonly ScannedRecord[], size: number): void {
    this.segments.set(segment, { live: 0, liveBytes: 0, size });
    for (const record of records) {
      if (record.type === RecordType.message) {
        this.place(record.id, { id: record.id, segment, offset: record.offset, length: record.length });
      } else {
        this.forget(record.id);
        this.damagedAtOpen.delete(record.id);
      }
    }
  }

  private async readIndex(segment: number): Promise<{ records: ScannedRecord[]; size: number } | undefined> {
    try {
      const { size } = await stat(this.segmentPath(segment));
      const records = decodeSegmentIndex(await readFile(this.indexPath(segment)), size);
      return records ? { records, size } : undefined;
    } catch {
      return undefined; // none (sealed by a crash, or cut short): the segment is scanned
    }
  }

  /** Written beside the segment, renamed into place whole; no fdatasync (see journal-index.ts). */
  private async writeIndex(segment: number, records: readonly ScannedRecord[], size: number): Promise<void> {
    const staged = `${this.indexPath(segment)}.tmp`;
    await writeFile(staged, encodeSegmentIndex(records, size), { mode: 0o640 });
    await rename(staged, this.indexPath(segment));
  }

  private indexPath(segment: number): string {
    return join(this.dir, indexName(segment));
  }

  get size(): number {
    return this.locations.size;
  }

  has(id: string): boolean {
    return this.locations.has(id);
  }

  location(id: string): JournalLocation | undefined {
    return this.locations.get(id);
  }

  ids(): IterableIterator<string> {
    return this.locations.keys();
  }

  segmentPath(segment: number): string {
    return join(this.dir, segmentName(segment));
  }

  /** Drops a message whose record was found damaged, and says so (unless it was gone already). */
  private async removeDamaged(id: string): Promise<void> {
    if (await this.remove(id, false).catch(() => false)) this.onDamagedRemoved?.(id);
  }

  /** Appends a message durably; resolves once it is on disk and readable through location(). */
  append(id: string, payload: readonly Buffer[]): Promise<void> {
    return this.enqueue(RecordType.message, id, payload, true);
  }

  /** Appends a REMOVE record for a journaled message; false if the journal does not hold it. */
  async remove(id: string, durable: boolean): Promise<boolean> {
    const location = this.locations.get(id);
    if (!location || !this.writer) return false;
    this.forget(id);
    try {
      await this.enqueue(RecordType.remove, id, [], durable);
    } catch (error) {
      // Not recorded: the message is still in the journal, so it stays listed and a retry of
      // the removal finds it (rather than falling through to queue/ and reporting success).
      if (!this.locations.has(id)) this.place(id, location);
      throw error;
    }
    this.reclaimLater();
    return true;
  }

  /** Reads payload bytes of a record into `buffer`; returns how many were read. */
  read(location: JournalLocation, buffer: Buffer, position: number, length: number): Promise<number> {
    return this.reads.read(location, buffer, position, length);
  }

  /** A whole record's payload, its CRC checked (JournalReads.readWhole). */
  readWhole(location: JournalLocation): Promise<Buffer> {
    return this.reads.readWhole(location);
  }

  /** A record's payload bytes as a stream, its CRC checked before the last chunk (JournalReads.stream). */
  stream(location: JournalLocation, size: number): AsyncGenerator<Buffer> {
    return this.reads.stream(location, size);
  }

  /**
   * A record that does not read back as written. A writer copies its segment to quarantine/
   * (as open and the scrub do, beside any earlier copy of it) and appends a REMOVE,
   * so the message leaves the queue and every view as if open had found the damage; a reader
   * (the queue CLI beside a server) changes nothing. Returns the error for the caller to throw.
   */
  private async damaged(location: JournalLocation): Promise<RecordDamagedError> {
    if (!this.writer || this.closed) return new RecordDamagedError(location, undefined);
    let copy: string;
    try {
      // Durable before the REMOVE below: the copy is then the only place its bytes are kept.
      copy = await this.quarantine.once(location.segment, [location.offset - RECORD_HEADER_BYTES]);
    } catch {
      // Not copied (the segment went meanwhile, or the disk refuses): the message is not
      // dropped either, so its bytes stay where they are for an operator.
      return new RecordDamagedError(location, undefined);
    }
    // Damage in the head: later records go to a new segment, so at the next open this one is
    // sealed and scanned as such (damage skipped, whole records after it kept), not cut at its
    // first bad record as a torn head is, which would drop every message after the damage.
    if (location.segment === this.head) this.headSuspect = true;
    const current = this.locations.get(location.id);
    if (current?.segment === location.segment && current.offset === location.offset) {
      await this.removeDamaged(location.id);
    }
    return new RecordDamagedError(location, copy);
  }

  /** Changes whenever the journal does (a record, a rotation): for Spool.queueChanged. */
  async mark(): Promise<string> {
    await this.settled();
    return `${String(this.head)}:${String(this.headLength)}`;
  }

  /** Waits for the writes and compaction under way, syncs what rode along, closes every file. */
  async close(): Promise<void> {
    await this.settled();
    await this.reclaiming;
    // REMOVEs carried from a head whose fdatasync failed, with no group since to take them.
    const carried = this.carried.splice(0);
    await Promise.all(
      carried.map((id) => this.enqueue(RecordType.remove, id, [], true).catch(() => undefined)),
    );
    await this.settled();
    this.closed = true;
    await this.indexing;
    if (this.headFd !== undefined) {
      if (this.headUnsynced) await this.syncHead(this.headFd, this.headLength).catch(() => undefined);
      const fd = this.headFd;
      this.headFd = undefined;
      await this.files.close(fd).catch(() => undefined);
    }
    await this.reads.close();
    await this.dirSync.close();
  }

  private async settled(): Promise<void> {
    while (this.writing) await this.writing.catch(() => undefined);
  }

  private enqueue(
    type: RecordType,
    id: string,
    payload: readonly Buffer[],
    durable: boolean,
    replaces?: JournalLocation,
  ): Promise<void> {
    // A reader (the queue CLI beside a server, no lock) must never write: the server owns the
    // head, and a second writer would cut off or shift its records.
    if (!this.writer) return Promise.reject(new Error('the journal was opened read-only'));
    if (this.closed) return Promise.reject(new Error('the journal is closed'));
    return new Promise((resolve, reject) => {
      const header = encodeRecordHeader(type, id, payload);
      this.queue.push({
        header,
        payload,
        type,
        id,
        durable,
        resolve,
        reject,
        ...(replaces ? { replaces } : {}),
      });
      this.writeNext();
    });
  }

  private writeNext(): void {
    if (this.writing || this.queue.length === 0) return;
    const group = this.queue;
    this.queue = [];
    this.writing = this.writeGroup(group).finally(() => {
      this.writing = undefined;
      this.writeNext();
    });
  }

  /** One writev and (when any record asks for durability) one fdatasync for the whole group. */
  private async writeGroup(asked: readonly Pending[]): Promise<void> {
    const sizeOf = (records: readonly Pending[]) =>
      records.reduce((sum, p) => sum + p.header.length + p.payload.reduce((s, c) => s + c.length, 0), 0);
    let fd: number;
    try {
      fd = await this.headFor(sizeOf(asked));
    } catch (error) {
      for (const pending of asked) pending.reject(error);
      return;
    }
    // REMOVEs carried from a head whose fdatasync failed go first, and make the group durable.
    const carried = this.carried.splice(0);
    const group = [...carried.map(carriedRemove), ...asked];
    const bytes = sizeOf(group);
    const start = this.headLength;
    try {
      await writeAll(
        fd,
        group.flatMap((p) => [p.header, ...p.payload]),
        this.files.writev,
      );
      this.headUnsynced = true;
      if (group.some((p) => p.durable)) await this.syncHead(fd, start + bytes);
    } catch (error) {
      // Not acknowledged: cut the partial write off so later records follow whole ones. If even
      // that fails, the next group starts a new segment (the bad tail is then quarantined at open).
      await this.files.ftruncate(fd, start).catch(() => {
        this.headSuspect = true;
      });
      this.carried.unshift(...carried);
      for (const pending of group) pending.reject(error);
      return;
    }
    this.headLength = start + bytes;
    const use = this.use(this.head);
    use.size = this.headLength;
    let offset = start;
    for (const pending of group) {
      offset += pending.header.length;
      const length = pending.payload.reduce((sum, chunk) => sum + chunk.length, 0);
      this.headRecords.push({ type: pending.type, id: pending.id, offset, length });
      const stale = pending.replaces !== undefined && this.locations.get(pending.id) !== pending.replaces;
      if (pending.type === RecordType.message && !stale)
        this.place(pending.id, { id: pending.id, segment: this.head, offset, length });
      offset += length;
      pending.resolve();
    }
  }

  /** An fdatasync of the head, covering its first `covers` bytes (those written when it starts). */
  private async syncHead(fd: number, covers: number): Promise<void> {
    this.fdatasyncs++;
    // Records written after this point are not covered by this sync: clear the mark first and
    // set it back if the sync fails. After a failed fdatasync the kernel may have dropped dirty
    // pages of this file, so what follows goes to a new segment.
    this.headUnsynced = false;
    try {
      await this.files.fdatasync(fd);
    } catch (error) {
      this.headUnsynced = true;
      this.headSuspect = true;
      throw error;
    }
    this.headSyncedLength = Math.max(this.headSyncedLength, covers);
  }

  /** The head's descriptor, after starting a new segment when this write would overfill it. */
  private async headFor(bytes: number): Promise<number> {
    const full = this.headLength > 0 && this.headLength + bytes > this.segmentBytes;
    const fd =
      this.headFd !== undefined && !full && !this.headSuspect ? this.headFd : await this.openHead(full);
    // A new segment's name must be durable before any record in it is acknowledged; until a
    // directory fsync has succeeded, every group syncs the directory again before it is told.
    if (!this.headNameDurable) {
      await this.dirSync.sync();
      this.headNameDurable = true;
    }
    return fd;
  }

  /** Leaves the head (synced) and opens the next segment, or opens the head again after a failed open. */
  private async openHead(full: boolean): Promise<number> {
    if (this.headFd !== undefined) {
      // What rode along in the old head (REMOVE records) is made durable before it is left. If
      // that sync fails (and a disk that fails it once may fail it every time), those REMOVEs
      // are written again in the next segment instead: failing here failed every later group,
      // appends too, until a restart. Their first copies may never reach the disk; the second
      // ones are made durable with the next group.
      if (this.headUnsynced) {
        await this.syncHead(this.headFd, this.headLength).catch(() => {
          const unsynced = this.headRecords.filter(
            (r) => r.type === RecordType.remove && r.offset > this.headSyncedLength,
          );
          this.carried.push(...unsynced.map((r) => r.id));
          this.headUnsynced = false;
        });
      }
      // Forgotten before the close returns: a close that fails has still released the number,
      // which another file may get, so it must never be written to or closed again.
      const old = this.headFd;
      this.headFd = undefined;
      await this.files.close(old);
    }
    const fresh = this.head === 0 || full || this.headSuspect;
    // A suspect head gets its index too, from the writer's own record boundaries: without one,
    // the next open scans it with resync, which can take a record forged inside a message body
    // after the damage. (A head whose failed write could not be cut is longer than its index
    // says, so that index is ignored and the segment scanned, as before.)
    if (fresh && this.head > 0 && this.writer) {
      const [sealed, records, size] = [this.head, this.headRecords, this.headLength];
      this.indexing = this.indexing.then(() => this.writeIndex(sealed, records, size)).catch(() => undefined);
    }
    if (fresh) {
      this.headRecords = [];
      this.head += 1;
      this.headLength = 0;
      this.headSyncedLength = 0;
      this.headSuspect = false;
      this.segments.set(this.head, { live: 0, liveBytes: 0, size: 0 });
      // Marked before the open: when that fails, the number has advanced, and the next group's
      // open (without O_EXCL) creates the file.
      this.headNameDurable = false;
    }
    const flags =
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (fresh ? constants.O_EXCL : 0);
    this.headFd = await this.files.open(this.segmentPath(this.head), flags, 0o640);
    return this.headFd;
  }

  private use(segment: number): SegmentUse {
    let use = this.segments.get(segment);
    if (!use) {
      use = { live: 0, liveBytes: 0, size: 0 };
      this.segments.set(segment, use);
    }
    return use;
  }

  private place(id: string, location: JournalLocation): void {
    this.forget(id);
    this.locations.set(id, location);
    const use = this.use(location.segment);
    use.live += 1;
    use.liveBytes += location.length + RECORD_HEADER_BYTES;
  }

  private forget(id: string): boolean {
    const location = this.locations.get(id);
    if (!location) return false;
    this.locations.delete(id);
    const use = this.use(location.segment);
    use.live -= 1;
    use.liveBytes -= location.length + RECORD_HEADER_BYTES;
    return true;
  }

  /** Runs reclaim after the work under way; a failure is retried at the next removal. */
  private reclaimLater(): void {
    this.reclaim().catch(() => undefined);
  }

  /** A reclaim pass after those under way, in the same chain, so two never run at once. */
  reclaim(): Promise<void> {
    if (!this.writer) return Promise.resolve();
    const pass = this.reclaiming.then(() => this.reclaimNow());
    this.reclaiming = pass.catch(() => undefined);
    return pass;
  }

  /**
   * Checks one sealed segment that holds live messages, the next after the one checked last (in
   * rotation), by the scan open makes (journal-scan.ts: every record's CRC): a sealed segment
   * with an index is never read at open, so damage the disk does to it later would otherwise
   * be found only when a delivery or a view reads the message. A live record that no longer
   * reads whole is handled as open handles damage: the segment is copied to quarantine/ and,
   * as a read that finds damage does, each lost message is removed (a REMOVE record, which
   * keeps it out at a reopen too; the segment's index is not rewritten, see scrubNext). In the reclaim chain: compaction never unlinks or copies the segment under it.
   * Reads in the scan's 4 MiB windows, each an async read. Undefined when there is none to check.
   */
  scrub(): Promise<ScrubReport | undefined> {
    if (!this.writer) return Promise.resolve(undefined);
    const pass = this.reclaiming.then(() => this.scrubNext());
    this.reclaiming = pass.then(
      () => undefined,
      () => undefined,
    );
    return pass;
  }

  private async scrubNext(): Promise<ScrubReport | undefined> {
    if (this.closed) return undefined;
    const sealed = [...this.segments.entries()]
      .filter(([segment, use]) => segment < this.head && use.live > 0)
      .map(([segment]) => segment)
      .sort((a, b) => a - b);
    const segment = sealed.find((s) => s > this.scrubbed) ?? sealed[0];
    if (segment === undefined) return undefined;
    this.scrubbed = segment;
    const handle = await open(this.segmentPath(segment), 'r');
    let scan: SegmentScan;
    let size: number;
    try {
      ({ size } = await handle.stat());
      scan = await scanSegment(handle, size, true);
    } finally {
      await handle.close();
    }
    // REMOVE records that no longer read as written (a bad end of a sealed segment counts).
    const removes = scan.damaged || scan.end < size ? await this.removesLostIn(segment, scan) : [];
    // Every live message of the segment read whole: the common case, without a walk of the map.
    const wholeLive = scan.records.filter((record) => {
      const location = this.locations.get(record.id);
      return location?.segment === segment && location.offset === record.offset;
    }).length;
    let lost: JournalLocation[] = [];
    if (wholeLive !== (this.segments.get(segment)?.live ?? 0)) {
      const whole = new Set(scan.records.map((record) => record.offset));
      lost = [...this.locations.values()].filter((l) => l.segment === segment && !whole.has(l.offset));
    }
    if (lost.length === 0 && removes.length === 0) return { segment, lost: [] };
    const quarantined = await this.quarantine.once(
      segment,
      [...lost, ...removes].map((l) => l.offset - RECORD_HEADER_BYTES),
    );
    // The index still has them, so open applies them; but an index is a shortcut written
    // without an fdatasync, and without it the next open would skip them and bring their
    // messages back. Written again in the head, durably: the id comes from the index, never
    // from the bad bytes.
    // Never for an id that is queued: a REMOVE it lost is one that open did not apply either.
    for (const record of removes) {
      if (!this.locations.has(record.id)) await this.enqueue(RecordType.remove, record.id, [], true);
    }
    // The segment's index is left as it is: the REMOVE records below keep the lost messages
    // out at the next open. Never written again from this scan: past damage it resyncs on the
    // next record magic, which may begin a record forged inside a message's body (a CRC has
    // no secret), and an index would queue that record at the next open.
    for (const location of lost) {
      if (this.locations.get(location.id) !== location) continue;
      await this.removeDamaged(location.id);
    }
    return {
      segment,
      lost: lost.map((l) => l.id),
      quarantined,
      ...(removes.length > 0 ? { rewritten: removes.map((r) => r.id) } : {}),
    };
  }

  /**
   * The REMOVE records `segment`'s index lists that the scan did not find whole as written (a
   * REMOVE the scan put right by one bit counts: its bytes on the disk are still bad). None
   * without an index: then open scanned the segment and wrote one from what read whole.
   */
  private async removesLostIn(segment: number, scan: SegmentScan): Promise<ScannedRecord[]> {
    const indexed = await this.readIndex(segment);
    if (!indexed) return [];
    const repaired = new Set(scan.damages.filter((d) => d.repaired).map((d) => d.at + RECORD_HEADER_BYTES));
    const whole = new Set(scan.records.filter((r) => !repaired.has(r.offset)).map((r) => r.offset));
    // Once written again, not again at the next round of the scrub (the damage stays on the disk).
    return indexed.records.filter(
      (record) =>
        record.type === RecordType.remove &&
        !whole.has(record.offset) &&
        !this.quarantine.has(segment, record.offset - RECORD_HEADER_BYTES),
    );
  }

  /** Unlinks dead segments from the oldest on, copying the live records of a mostly dead one forward. */
  private async reclaimNow(): Promise<void> {
    for (;;) {
      const oldest = Math.min(...this.segments.keys());
      const use = this.segments.get(oldest);
      if (!use || oldest >= this.head) return;
      if (use.live > 0) {
        if (use.liveBytes >= use.size * COMPACT_BELOW && !this.deadBytesPinned()) return;
        await this.copyForward(oldest);
        if ((this.segments.get(oldest)?.live ?? 0) > 0) return;
      }
      await this.reads.retire(oldest);
      await this.indexing;
      for (const path of [this.indexPath(oldest), this.segmentPath(oldest)]) {
        await this.files.unlink(path).catch((error: unknown) => {
          if (!isErrno(error, 'ENOENT')) throw error;
        });
      }
      // A read with a location looked up earlier may have opened the segment again meanwhile;
      // from now on an open fails (ENOENT), so this is the last descriptor it can get.
      await this.reads.retire(oldest);
      this.segments.delete(oldest);
      this.quarantine.forget(oldest);
      // Gone for good before the next one goes: a crash must never bring back an older segment
      // whose messages were killed by REMOVE records in a newer one already unlinked.
      await this.dirSync.sync();
    }
  }

  /**
   * Whether the sealed segments hold more dead bytes than live ones, plus a segment's worth:
   * the oldest, though mostly live (a long-deferred backlog), then keeps dead segments behind
   * it from going, and the journal would grow without bound. Copying it forward frees them.
   */
  private deadBytesPinned(): boolean {
    let sealed = 0;
    let live = 0;
    for (const [segment, use] of this.segments) {
      if (segment >= this.head) continue;
      sealed += use.size;
      live += use.liveBytes;
    }
    return sealed - live > live + this.segmentBytes;
  }

  /** Re-appends, durably, each live record of `segment` to the head. */
  private async copyForward(segment: number): Promise<void> {
    const live = [...this.locations.entries()].filter(([, location]) => location.segment === segment);
    const copies = live.map(async ([id, location]) => {
      // Checked: a damaged record copied forward would get a fresh CRC and pass for whole.
      const payload = await this.readWhole(location).catch((error: unknown) => {
        if (error instanceof RecordDamagedError) return undefined; // quarantined and removed
        throw error;
      });
      if (!payload) return;
      // Removed while it was read: the REMOVE record is written already, no copy may follow it.
      if (this.locations.get(id) !== location) return;
      await this.enqueue(RecordType.message, id, [payload], true, location);
    });
    await Promise.all(copies);
  }
}

/** A REMOVE written again from a head left unsynced (Journal.carried): nobody waits for it. */
function carriedRemove(id: string): Pending {
  const ignore = (): void => undefined;
  return {
    header: encodeRecordHeader(RecordType.remove, id, []),
    payload: [],
    type: RecordType.remove,
    id,
    durable: true,
    resolve: ignore,
    reject: ignore,
  };
}

/** A bad record open skipped, with the payload length its header gives (0 for a REMOVE's). */
interface DamagedRecord extends ScanDamage {
  readonly length: number;
}

/** What Journal.open found besides the records. */
export interface JournalOpenReport {
  /** The quarantine copies open made, relative to the spool (quarantine/journal-NNNNNNNNNN.seg). */
  readonly quarantined: string[];
  /** Messages whose record open found damaged, so no longer queued (as a read finding damage drops them). */
  readonly lost: string[];
  /**
   * Messages queued again because the REMOVE record that killed them is damaged past repair
   * (its header's id is not proof, but names a queued message): a message already delivered
   * or deleted may go out again. Kept queued: a duplicate rather than a loss (see Spool.open).
   */
  readonly resurrected: string[];
  /** Damaged records that look like a REMOVE but whose id is not legible: as many messages may be back. */
  readonly unnamedRemoves: number;
}

async function recordLengthAt(handle: FileHandle, at: number): Promise<number> {
  const header = Buffer.alloc(RECORD_HEADER_BYTES);
  const { bytesRead } = await handle.read(header, 0, RECORD_HEADER_BYTES, at);
  return bytesRead === RECORD_HEADER_BYTES ? recordLengthField(header) : -1;
}

/** What one step of Journal.scrub checked and found. */
export interface ScrubReport {
  readonly segment: number;
  /** Messages whose records no longer read whole: removed from the journal. */
  readonly lost: readonly string[];
  /** The segment's quarantine copy, relative to the spool (quarantine/journal-NNNNNNNNNN.seg). */
  readonly quarantined?: string;
  /** Ids whose REMOVE record in the segment is damaged: written again in the head (from the index). */
  readonly rewritten?: readonly string[];
}
