import { randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { DirectorySync } from './dir-sync.js';
import { DurableFileStream } from './durable-file.js';
import { parseEnvelope, type Envelope } from './envelope.js';
import { isQueueId } from './queue-id.js';

/**
 * The durable spool. Layout:
 *   tmp/ID.eml, tmp/ID.json  while a message arrives (removed at start: never acknowledged)
 *   queue/ID.eml             the message, Received header first
 *   queue/ID.json            its envelope; renamed in last, so its presence commits the message
 *
 * A message is acknowledged only after both files are fsynced, renamed into queue/ and
 * queue/ itself fsynced (shared between concurrent sessions by DirectorySync).
 */
export class Spool {
  readonly tmpDir: string;
  readonly queueDir: string;
  private readonly queueSync: DirectorySync;
  private readonly committedListeners = new Set<(envelope: Envelope) => void>();

  private constructor(readonly dir: string) {
    this.tmpDir = join(dir, 'tmp');
    this.queueDir = join(dir, 'queue');
    this.queueSync = new DirectorySync(this.queueDir);
  }

  /** Opens (creating if needed) a spool and removes what a crash left half-written. */
  static async open(dir: string): Promise<{ spool: Spool; removed: string[] }> {
    const spool = new Spool(dir);
    await mkdir(spool.tmpDir, { recursive: true, mode: 0o750 });
    await mkdir(spool.queueDir, { recursive: true, mode: 0o750 });
    const removed = await spool.recover();
    return { spool, removed };
  }

  /** For readers beside a running server (the queue CLI): no recovery, nothing removed. */
  static inspect(dir: string): Spool {
    return new Spool(dir);
  }

  private async recover(): Promise<string[]> {
    const removed: string[] = [];
    for (const name of await readdir(this.tmpDir)) {
      await rm(join(this.tmpDir, name), { force: true });
      removed.push(join('tmp', name));
    }
    const names = new Set(await readdir(this.queueDir));
    for (const name of names) {
      const [id = '', extension] = name.split('.');
      const partner = extension === 'eml' ? `${id}.json` : `${id}.eml`;
      // A message without its envelope was never committed, nor acknowledged.
      // An envelope without its message cannot be delivered or shown.
      if ((extension === 'eml' || extension === 'json') && !names.has(partner)) {
        await rm(join(this.queueDir, name), { force: true });
        removed.push(join('queue', name));
      }
      // Delivery state of a message that is gone (removed between the two unlinks).
      if (extension === 'state' && !names.has(`${id}.json`)) {
        await rm(join(this.queueDir, name), { force: true });
        removed.push(join('queue', name));
      }
    }
    if (removed.length > 0) await this.queueSync.sync();
    return removed;
  }

  onCommitted(listener: (envelope: Envelope) => void): () => void {
    this.committedListeners.add(listener);
    return () => this.committedListeners.delete(listener);
  }

  async begin(id: string): Promise<SpoolWriter> {
    const path = join(this.tmpDir, `${id}.eml`);
    const handle = await open(path, 'wx', 0o640);
    return new SpoolWriter(this, id, handle);
  }

  messagePath(id: string): string {
    return join(this.queueDir, `${id}.eml`);
  }

  /** Called by a writer once its message is durable. */
  /** Writes the envelope to tmp/ and fdatasyncs it (in parallel with the message's own sync). */
  async stageEnvelope(id: string, envelope: Envelope): Promise<void> {
    await writeDurably(join(this.tmpDir, `${id}.json`), `${JSON.stringify(envelope)}\n`);
  }

  /** Renames a durable message and its staged envelope into queue/ (envelope last), then fsyncs queue/. */
  async publish(id: string, envelope: Envelope): Promise<void> {
    const envelopeTmp = join(this.tmpDir, `${id}.json`);
    await rename(join(this.tmpDir, `${id}.eml`), this.messagePath(id));
    try {
      await rename(envelopeTmp, join(this.queueDir, `${id}.json`));
    } catch (error) {
      await rm(this.messagePath(id), { force: true });
      throw error;
    }
    await this.queueSync.sync();
    for (const listener of this.committedListeners) listener(envelope);
  }

  /**
   * Removes a committed message: envelope first, so it is never listed without its file.
   * `durable` waits for the directory fsync, for a removal that records a delivery.
   */
  async remove(id: string, options: { durable?: boolean } = {}): Promise<void> {
    if (!isQueueId(id)) return;
    await rm(join(this.queueDir, `${id}.json`), { force: true });
    await rm(this.messagePath(id), { force: true });
    await rm(join(this.queueDir, `${id}.state.json`), { force: true });
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
    await rm(join(this.tmpDir, `${id}.json`), { force: true });
  }

  async envelope(id: string): Promise<Envelope | undefined> {
    if (!isQueueId(id)) return undefined;
    try {
      return parseEnvelope(await readFile(join(this.queueDir, `${id}.json`), 'utf8'));
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  /** How many committed messages there are, from the directory listing alone. */
  async count(): Promise<number> {
    return (await readdir(this.queueDir)).filter((name) => /^[0-9A-Z]{17}\.json$/.test(name)).length;
  }

  /** Committed messages, oldest first. */
  async list(): Promise<Envelope[]> {
    const ids = (await readdir(this.queueDir))
      .filter((name) => name.endsWith('.json'))
      .map((name) => name.slice(0, -'.json'.length))
      .filter(isQueueId)
      .sort();
    const envelopes = await Promise.all(ids.map((id) => this.envelope(id)));
    return envelopes.filter((envelope): envelope is Envelope => envelope !== undefined);
  }

  readMessage(id: string): ReadStream {
    return createReadStream(this.messagePath(id));
  }
}

/** One message being received: bytes go to `stream`, then `commit` or `abort`. */
export class SpoolWriter {
  readonly stream: Writable;
  private done = false;

  constructor(
    private readonly spool: Spool,
    readonly id: string,
    private readonly handle: FileHandle,
  ) {
    this.stream = new DurableFileStream(handle);
    // Failures surface through end()'s callback; this keeps an 'error' event from crashing
    // the process on paths that do not listen themselves (bounces, the send API).
    this.stream.on('error', () => undefined);
  }

  /** Ends the stream, makes the message durable, then its envelope; resolves when acknowledged. */
  async commit(envelope: Envelope): Promise<void> {
    this.done = true;
    try {
      // The message's fdatasync and the envelope's run side by side; both finish before any rename.
      const [message, staged] = await Promise.allSettled([endStream(this.stream), this.spool.stageEnvelope(this.id, envelope)]);
      await this.handle.close();
      if (message.status === 'rejected') throw message.reason;
      if (staged.status === 'rejected') throw staged.reason;
      await this.spool.publish(this.id, envelope);
    } catch (error) {
      await this.spool.discard(this.id);
      throw error;
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.stream.destroy();
    await this.handle.close().catch(() => undefined);
    await this.spool.discard(this.id);
  }
}

/**
 * Resolves once the stream's _final (the fdatasync) is done; rejects if any write or the
 * sync failed, so a truncated or unsynced message is never acknowledged.
 */
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

async function writeDurably(path: string, text: string): Promise<void> {
  const handle = await open(path, 'wx', 0o640);
  try {
    await handle.writeFile(text);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
