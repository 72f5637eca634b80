import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  copyFile,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { DirectorySync, makeDirectoryDurably, syncDirectory, syncDirectoryChain } from './dir-sync.js';
import { realFiles, type JournalFiles } from './journal-files.js';
import { SpoolFileStream } from './spool-file.js';
import { parseEnvelope, type Envelope } from './envelope.js';
import { lockSpool } from './lock.js';
import { Journal, type JournalLocation, type ScrubReport } from './journal.js';
import { encodeTrailer, readTrailer, readTrailerFrom } from './queue-file.js';
import { isQueueId } from './queue-id.js';
import { isErrno } from '../util/errno.js';
import { Limiter } from '../util/limiter.js';

/**
 * The durable spool. Layout:
 *   journal/NNNNNNNNNN.seg  small messages (most mail), a record each (see journal.ts)
 *   tmp/ID.eml        while a large message arrives (removed at start: never acknowledged)
 *   queue/ID.eml      a large message with its envelope in a trailer (see queue-file.ts)
 *   queue/ID.state.json  delivery state, written by the delivery worker
 *
 * A message held in memory until its end (SMALL_MESSAGE_BYTES, spool-file.ts) is committed
 * as one journal record: acknowledged once the record is fdatasynced, a sync shared by every
 * commit that came before it. A larger one streamed to tmp/ is acknowledged only after its
 * file, trailer included, is fdatasynced, renamed into queue/ and queue/ itself fsynced. The
 * rename is the commit: queue/ holds only whole messages. The directory fsync is a group
 * commit too (DirectorySync). Every read method looks in the journal first, then queue/.
 */
export class Spool {
  readonly tmpDir: string;
  readonly queueDir: string;
  readonly journalDir: string;
  private queueSync: DirectorySync;
  /** Opened by open(); read lazily (and only read) by a spool from inspect(). */
  private journalReady: Promise<Journal> | undefined;
  /** The journal once open, for readMessage (which returns a stream at once). */
  private openJournal: Journal | undefined;
  private readonly committedListeners = new Set<CommitListener>();
  private readonly damagedListeners = new Set<(id: string) => void>();
  /** Messages whose journal record open found damaged: told to each damaged listener as it subscribes. */
  private damagedAtOpen: readonly string[] = [];
  private unlock: () => Promise<void> = () => Promise.resolve();
  /** Directory fsyncs of the spool's own directories go through these (journal-files.ts). */
  private files: JournalFiles = realFiles;

  private constructor(readonly dir: string) {
    this.tmpDir = join(dir, 'tmp');
    this.queueDir = join(dir, 'queue');
    this.journalDir = join(dir, 'journal');
    this.queueSync = new DirectorySync(this.queueDir);
  }

  /**
   * Opens (creating if needed) a spool, takes its lock and makes it whole again after a crash
   * (see Recovery). Throws SpoolLockedError while another live process holds it.
   */
  static async open(dir: string, options: OpenOptions = {}): Promise<{ spool: Spool } & Recovery> {
    const spool = new Spool(dir);
    const files = (spool.files = options.files ?? realFiles);
    spool.queueSync = new DirectorySync(spool.queueDir, files);
    // Durable entries: a crash right after a first start must not lose tmp/ or queue/ (nor the
    // spool directory itself), with a message acknowledged into them.
    await makeDirectoryDurably(files, spool.tmpDir);
    await makeDirectoryDurably(files, spool.queueDir);
    // Every start, not only the one that made them: entries an earlier start made and was
    // killed before syncing (journal/ and quarantine/ are in the spool directory too).
    await syncDirectoryChain(files, dir);
    spool.unlock = await lockSpool(dir);
    try {
      const opened = Journal.open(spool.journalDir, {
        writer: true,
        quarantineDir: join(dir, 'quarantine'),
        files,
      });
      spool.journalReady = opened.then(({ journal }) => journal);
      const { journal, quarantined, lost, resurrected, unnamedRemoves } = await opened;
      spool.openJournal = journal;
      journal.onDamagedRemoved = (id) => {
        spool.tellDamagedRemoved(id);
      };
      // A large message in queue/ is not the one a bad journal record named (its id is not proof).
      spool.damagedAtOpen = (
        await Promise.all(
          lost.map(async (id) => ((await stat(spool.messagePath(id)).catch(() => undefined)) ? [] : [id])),
        )
      ).flat();
      const recovery = await spool.recover(options.deferFileChecks === true);
      return {
        spool,
        ...recovery,
        quarantined: [...quarantined, ...recovery.quarantined],
        ...(spool.damagedAtOpen.length > 0 ? { lost: [...spool.damagedAtOpen] } : {}),
        ...(resurrected.length + unnamedRemoves > 0 ? { resurrected, unnamedRemoves } : {}),
      };
    } catch (error) {
      await spool.close();
      throw error;
    }
  }

  /** Releases the lock taken by open (the files stay) and the queue directory's descriptor. */
  async close(): Promise<void> {
    try {
      await (await this.journalReady?.catch(() => undefined))?.close();
      await this.queueSync.close();
    } finally {
      await this.unlock();
    }
  }

  /** One step of the journal's background check (Journal.scrub); undefined for a spool from inspect. */
  scrubJournal(): Promise<ScrubReport | undefined> {
    return this.openJournal?.scrub() ?? Promise.resolve(undefined);
  }

  /** For readers beside a running server (the queue CLI): no recovery, nothing removed. */
  static inspect(dir: string): Spool {
    return new Spool(dir);
  }

  /** The journal, opened at first use by a spool from inspect (read, never repaired). */
  private journal(): Promise<Journal> {
    this.journalReady ??= Journal.open(this.journalDir, {
      writer: false,
      quarantineDir: join(this.dir, 'quarantine'),
    }).then(({ journal }) => {
      this.openJournal = journal;
      return journal;
    });
    return this.journalReady;
  }

  private async recover(deferFileChecks: boolean): Promise<Recovery> {
    const recovery: Recovery = { removed: [], migrated: [], quarantined: [] };
    for (const name of await readdir(this.tmpDir)) {
      await rm(join(this.tmpDir, name), { force: true });
      recovery.removed.push(join('tmp', name));
    }
    if (!deferFileChecks) {
      const queue = await this.checkQueue(new Set());
      recovery.removed.push(...queue.removed);
      recovery.migrated.push(...queue.migrated);
      recovery.quarantined.push(...queue.quarantined);
    }
    return recovery;
  }

  /**
   * What open does to queue/ unless deferred (OpenOptions.deferFileChecks): reads every
   * message not in `known` (ids already known whole, e.g. indexed by the sink) to see that it
   * is whole, migrates the earlier two-file layout, quarantines what is not a message, and
   * removes delivery states whose message is gone. Runs beside intake when deferred.
   */
  async checkQueue(known: ReadonlySet<string>): Promise<Recovery> {
    const recovery: Recovery = { removed: [], migrated: [], quarantined: [] };
    const names = new Set(await readdir(this.queueDir));
    const journal = await this.journal();
    const unknown = [...names].filter(
      (name) => QUEUE_FILE.test(name) && !known.has(name.slice(0, -'.eml'.length)),
    );
    await this.checkWhole(unknown, names, recovery);
    for (const name of await readdir(this.queueDir)) {
      const id = name.split('.')[0] ?? '';
      // Delivery state of a message that is gone (removed between the two unlinks).
      if (name.endsWith('.state.json') && !names.has(`${id}.eml`) && !journal.has(id)) {
        await rm(join(this.queueDir, name), { force: true });
        recovery.removed.push(join('queue', name));
      }
      // An envelope of the earlier two-file layout whose message never arrived in queue/.
      if (QUEUE_ENVELOPE.test(name) && !names.has(`${id}.eml`)) {
        await rm(join(this.queueDir, name), { force: true });
        recovery.removed.push(join('queue', name));
      }
    }
    if (recovery.removed.length + recovery.migrated.length + recovery.quarantined.length > 0) {
      await this.queueSync.sync();
    }
    return recovery;
  }

  /** Changes with every commit, removal or state written: queue/'s mtime and the journal's end. */
  async queueChanged(): Promise<string> {
    const journal = await (await this.journal()).mark();
    return `${String((await stat(this.queueDir, { bigint: true })).mtimeNs)}/${journal}`;
  }

  private async checkWhole(
    queueFiles: readonly string[],
    names: ReadonlySet<string>,
    recovery: Recovery,
  ): Promise<void> {
    const files = new Limiter(FILES_AT_ONCE);
    const quarantine = join(this.dir, 'quarantine');
    const before = recovery.quarantined.length;
    const checks = queueFiles.map((name) =>
      files.run(async () => {
        const id = name.slice(0, -'.eml'.length);
        if (await this.envelope(id)) {
          // Whole. An envelope file beside it is left from a migration cut short.
          if (names.has(`${id}.json`)) await rm(join(this.queueDir, `${id}.json`), { force: true });
          return;
        }
        if (names.has(`${id}.json`) && (await this.migrate(id))) {
          recovery.migrated.push(id);
          return;
        }
        // Never ours to drop silently: it may be someone's mail. An operator can look at it.
        await makeDirectoryDurably(this.files, quarantine);
        for (const file of [name, `${id}.json`, `${id}.state.json`].filter((f) => names.has(f))) {
          try {
            await this.files.rename(join(this.queueDir, file), join(quarantine, file));
            recovery.quarantined.push(join('queue', file));
          } catch (error) {
            // Removed since the listing (checkQueue may run beside deletes): nothing to move.
            if (!isErrno(error, 'ENOENT')) throw error;
          }
        }
      }),
    );
    await Promise.all(checks);
    // The new names durable before the old ones' removal (checkQueue's sync of queue/ after
    // this): a crash in between must leave a file in both places, never in neither.
    if (recovery.quarantined.length > before) await syncDirectory(this.files, quarantine);
  }

  /**
   * A message of the earlier layout (queue/ID.eml beside its envelope queue/ID.json) into one
   * file: a copy with the trailer, made durable, renamed over the old one; then the .json goes.
   * Cut short by a crash, either the old pair or the new file is whole, and this runs again.
   */
  private async migrate(id: string): Promise<boolean> {
    const envelope = parseEnvelope(await readFile(join(this.queueDir, `${id}.json`), 'utf8').catch(() => ''));
    const { size } = await stat(this.messagePath(id));
    if (envelope?.id !== id || envelope.size !== size) return false;
    const staged = join(this.tmpDir, `${id}.eml`);
    await copyFile(this.messagePath(id), staged);
    await writeDurably(staged, encodeTrailer(envelope), 'a');
    await rename(staged, this.messagePath(id));
    await this.queueSync.sync();
    await rm(join(this.queueDir, `${id}.json`), { force: true });
    return true;
  }

  /**
   * Runs `listener` for each message committed from now on, after it is durable and before
   * the commit resolves (so before the 250): the sink indexes it there, which is what makes
   * a message visible the moment its client is told it was accepted. A listener must not
   * throw; a promise it returns is awaited.
   */
  onCommitted(listener: CommitListener): () => void {
    this.committedListeners.add(listener);
    return () => this.committedListeners.delete(listener);
  }

  /**
   * Runs `listener` for each message the journal removes from now on because its record is
   * damaged (copied to quarantine/ first), whoever found it: the background scrub, or a read
   * by any view (delivery, HTTP, queue show). The delivery worker forgets it and the sink
   * drops its row, so nothing keeps offering a message whose bytes are gone. Called at once,
   * inside the read that found the damage: a listener must not wait for that read.
   */
  onDamagedRemoved(listener: (id: string) => void): () => void {
    this.damagedListeners.add(listener);
    // Damage open found came before any listener: told now, so a view that indexed the message
    // before the crash (the sink's row, a state file's worker) drops it as it would at a read.
    for (const id of this.damagedAtOpen) tellSafely(listener, id);
    return () => this.damagedListeners.delete(listener);
  }

  private tellDamagedRemoved(id: string): void {
    for (const listener of this.damagedListeners) tellSafely(listener, id);
  }

  /** Starts a message; no file exists until its bytes outgrow memory or it commits. */
  begin(id: string): Promise<SpoolWriter> {
    return Promise.resolve(new SpoolWriter(this, id, join(this.tmpDir, `${id}.eml`)));
  }

  messagePath(id: string): string {
    return join(this.queueDir, `${id}.eml`);
  }

  /** Renames a durable message into queue/, then fsyncs queue/ (shared with other commits). */
  async publish(id: string, envelope: Envelope, bytes?: Buffer): Promise<void> {
    await rename(join(this.tmpDir, `${id}.eml`), this.messagePath(id));
    try {
      await this.queueSync.sync();
    } catch (error) {
      // Not acknowledged, so the client will send it again: take ours back rather than
      // deliver it too after a restart. (If even this is lost in a crash, the cost is a
      // duplicate, never a loss.)
      await rm(this.messagePath(id), { force: true }).catch(() => undefined);
      throw error;
    }
    await this.tellCommitted(envelope, bytes);
  }

  /** Appends a message held in memory to the journal, durably, then tells the listeners. */
  async publishHeld(envelope: Envelope, bytes: Buffer): Promise<void> {
    await (await this.journal()).append(envelope.id, [bytes, encodeTrailer(envelope)]);
    await this.tellCommitted(envelope, bytes);
  }

  private async tellCommitted(envelope: Envelope, bytes: Buffer | undefined): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const listener of this.committedListeners) {
      const result = listener(envelope, bytes);
      if (result) pending.push(result);
    }
    await Promise.all(pending);
  }

  /**
   * Removes a committed message, its state after it.
   * `durable` waits for the directory fsync, for a removal that records a delivery.
   * `stateless`: the caller knows no state was ever written for it (the delivery worker,
   * for a message delivered at its first attempt), so there is no second unlink to try.
   */
  async remove(id: string, options: { durable?: boolean; stateless?: boolean } = {}): Promise<void> {
    if (!isQueueId(id)) return;
    // A journaled message: its REMOVE record first, so a crash in between leaves a state whose
    // message is gone (removed at the next check), never a message without its state.
    if (await (await this.journal()).remove(id, options.durable === true)) {
      if (options.stateless !== true) await unlinkIfThere(join(this.queueDir, `${id}.state.json`));
      return;
    }
    // unlink, not rm: rm stats each path first, and this runs once per delivered message.
    await unlinkIfThere(this.messagePath(id));
    if (options.stateless !== true) await unlinkIfThere(join(this.queueDir, `${id}.state.json`));
    if (options.durable === true) await this.queueSync.sync();
  }

  /** The mutable delivery state of a message, as text (parsed by the delivery module). */
  async readState(id: string): Promise<string | undefined> {
    if (!isQueueId(id)) return undefined;
    try {
      return await readFile(join(this.queueDir, `${id}.state.json`), 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  /** Replaces a message's state durably (temp file, fdatasync, rename, directory fsync). */
  async writeState(id: string, text: string): Promise<void> {
    const temporary = join(this.tmpDir, `${id}.state.${randomBytes(4).toString('hex')}.json`);
    await writeDurably(temporary, text);
    await rename(temporary, join(this.queueDir, `${id}.state.json`));
    await this.queueSync.sync();
  }

  async discard(id: string): Promise<void> {
    await rm(join(this.tmpDir, `${id}.eml`), { force: true });
  }

  async envelope(id: string): Promise<Envelope | undefined> {
    if (!isQueueId(id)) return undefined;
    const journal = await this.journal();
    const location = journal.location(id);
    if (location) {
      const envelope = await readTrailerFrom({
        size: location.length,
        read: (buffer, length, position) => journal.read(location, buffer, position, length),
      });
      return envelope?.id === id ? envelope : undefined;
    }
    let handle: FileHandle;
    try {
      handle = await open(this.messagePath(id), 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
    try {
      const envelope = await readTrailer(handle);
      return envelope?.id === id ? envelope : undefined;
    } finally {
      await handle.close();
    }
  }

  /** How many committed messages there are, from the journal's map and the directory listing. */
  async count(): Promise<number> {
    const journal = await this.journal();
    return journal.size + (await readdir(this.queueDir)).filter((name) => QUEUE_FILE.test(name)).length;
  }

  /** Ids of committed messages, from the journal's map and the directory listing (nothing is read). */
  async ids(): Promise<string[]> {
    const journal = await this.journal();
    const files = (await readdir(this.queueDir))
      .filter((name) => QUEUE_FILE.test(name))
      .map((name) => name.slice(0, -'.eml'.length));
    return [...journal.ids(), ...files];
  }

  /** Committed messages, oldest first. */
  async list(): Promise<Envelope[]> {
    const ids = (await this.ids()).sort();
    const files = new Limiter(FILES_AT_ONCE);
    const envelopes = await Promise.all(ids.map((id) => files.run(() => this.envelope(id))));
    return envelopes.filter((envelope): envelope is Envelope => envelope !== undefined);
  }

  /** A whole message in memory, for tests and small messages; undefined if there is none. */
  async messageBytes(id: string): Promise<Buffer | undefined> {
    const envelope = await this.envelope(id);
    return envelope ? this.readBytes(envelope) : undefined;
  }

  /**
   * The first `limit` bytes of a message (all of it by default), in memory: an open, reads into
   * one buffer and a close, with no stream and no copy.
   */
  async readBytes(
    message: { readonly id: string; readonly size: number },
    limit = message.size,
  ): Promise<Buffer> {
    const size = Math.min(message.size, limit);
    const journal = await this.journal();
    const location = journal.location(message.id);
    if (location) return readJournaled(journal, location, size);
    const handle = await open(this.messagePath(message.id), 'r');
    try {
      const buffer = Buffer.allocUnsafe(size);
      let filled = 0;
      while (filled < size) {
        const { bytesRead } = await handle.read(buffer, filled, size - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === size ? buffer : buffer.subarray(0, filled);
    } finally {
      await handle.close();
    }
  }

  /** The header block of a message (up to the first empty line, at most `limit` bytes read), as UTF-8. */
  async readHeader(
    message: { readonly id: string; readonly size: number },
    limit = 256 * 1024,
  ): Promise<string> {
    const bytes = await this.readBytes(message, limit);
    const end = bytes.indexOf('\r\n\r\n');
    return bytes.subarray(0, end >= 0 ? end + 2 : bytes.length).toString('utf8');
  }

  /** The message's own bytes, without the trailer after them. */
  readMessage(message: { readonly id: string; readonly size: number }): Readable {
    // end is inclusive, so an empty message (never one of ours: each has a Received header) reads nothing.
    if (message.size === 0) return Readable.from([]);
    // Every caller has the envelope, so the journal is open by now.
    const location = this.openJournal?.location(message.id);
    // Through the journal's shared descriptor: a segment unlinked after compaction moved the
    // record stays readable to a stream that began before.
    if (this.openJournal && location)
      return Readable.from(this.openJournal.stream(location, message.size), { objectMode: false });
    return createReadStream(this.messagePath(message.id), { start: 0, end: message.size - 1 });
  }
}

/**
 * Told of each commit before it is acknowledged; see Spool.onCommitted. `bytes` is the
 * message itself when it was small enough to be held in memory until its commit (so a
 * listener need not read back the file just written); otherwise undefined.
 */
export type CommitListener = (envelope: Envelope, bytes?: Buffer) => void | Promise<void>;

const QUEUE_FILE = /^[0-9A-Z]{17}\.eml$/;
/** Queue files open together while listing or recovering: a large queue must not open every file at once. */
const FILES_AT_ONCE = 64;
/** The envelope file of the layout before one file per message. */
const QUEUE_ENVELOPE = /^[0-9A-Z]{17}\.json$/;

export interface OpenOptions {
  /**
   * Skips the work on queue/ at open (O(messages) before the server is ready: a listing and a
   * read of every file); the caller runs checkQueue after start instead, or not at all when
   * it knows queue/ has not changed since it was last checked.
   */
  readonly deferFileChecks?: boolean;
  /** The directory and journal file operations (journal-files.ts): node:fs unless a test injects failures. */
  readonly files?: JournalFiles;
}

/** What opening a spool found and did. */
export interface Recovery {
  /** Unacknowledged leftovers of a crash (tmp/), and states of messages that are gone. */
  readonly removed: string[];
  /** Ids of messages of the earlier two-file layout rewritten as one file. */
  readonly migrated: string[];
  /** Files in queue/ that are not whole messages, moved to quarantine/ for an operator. */
  readonly quarantined: string[];
  /**
   * Open only: messages queued again because the journal's REMOVE record for them is damaged
   * past repair (JournalOpenReport.resurrected), and how many such records name no legible id.
   * They are delivered again: a possible duplicate, never a loss (Postfix's choice too).
   */
  readonly resurrected?: string[];
  readonly unnamedRemoves?: number;
  /** Open only: messages whose journal record open found damaged, so no longer queued. */
  readonly lost?: string[];
}

/** One message being received: bytes go to `stream`, then `commit` or `abort`. */
export class SpoolWriter {
  private readonly file: SpoolFileStream;
  private done = false;

  constructor(
    private readonly spool: Spool,
    readonly id: string,
    path: string,
  ) {
    this.file = new SpoolFileStream(path);
    // Failures surface through end()'s callback; this keeps an 'error' event from crashing
    // the process on paths that do not listen themselves (bounces, the send API).
    this.file.on('error', () => undefined);
  }

  get stream(): Writable {
    return this.file;
  }

  /**
   * Ends the stream, appends the envelope, makes the file durable and publishes it;
   * resolves when the message may be acknowledged. The envelope's size is the bytes written.
   * `header` goes before all of them: one known only after the last byte (Authentication-Results).
   */
  async commit(envelope: Envelope, header?: Buffer): Promise<Envelope> {
    this.done = true;
    try {
      await endStream(this.file);
      if (header) await this.file.prepend(header);
      const committed = envelope.size === this.file.bytes ? envelope : { ...envelope, size: this.file.bytes };
      const held = this.file.takeHeldMessage();
      if (held) {
        await this.spool.publishHeld(committed, held);
        return committed;
      }
      await this.file.seal(encodeTrailer(committed));
      await this.spool.publish(this.id, committed, this.file.heldMessage);
      return committed;
    } catch (error) {
      await this.file.close().catch(() => undefined);
      await this.spool.discard(this.id);
      throw error;
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.file.destroy();
    await this.file.close().catch(() => undefined);
    if (this.file.created) await this.spool.discard(this.id);
  }
}

/** Resolves once every byte written is handed to the file stream; rejects if a write failed. */
function endStream(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.errored) {
      reject(stream.errored);
      return;
    }
    stream.end((error?: Error | null) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

async function writeDurably(path: string, text: string | Buffer, flags = 'wx'): Promise<void> {
  const handle = await open(path, flags, 0o640);
  try {
    await handle.writeFile(text);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

async function unlinkIfThere(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
}

/**
 * The first `size` bytes of a journaled message. The whole record is read (a journaled message
 * is small) so that its CRC is checked: damaged bytes are never returned (RecordDamagedError).
 */
async function readJournaled(journal: Journal, location: JournalLocation, size: number): Promise<Buffer> {
  return (await journal.readWhole(location)).subarray(0, size);
}

/** A listener's mistake must not turn the read's RecordDamagedError into another error. */
function tellSafely(listener: (id: string) => void, id: string): void {
  try {
    listener(id);
  } catch {
    // Nothing to do: the listener's own business.
  }
}
