import { close, closeSync, constants, fdatasync, open, writev } from 'node:fs';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { prependToFile } from './prepend.js';

// Plain descriptors, not FileHandle: a FileHandle per message showed in the intake profile.
const openFd = promisify(open);
const writevFd = promisify(writev);
const fdatasyncFd = promisify(fdatasync);
const closeFd = promisify(close);

/** Writes every byte: writev may write fewer than asked (a full disk, a signal). */
export async function writeAll(
  fd: number,
  chunks: readonly Buffer[],
  write: (fd: number, chunks: readonly Buffer[]) => Promise<{ bytesWritten: number }> = writevFd,
): Promise<void> {
  let pending = chunks.filter((chunk) => chunk.length > 0);
  while (pending.length > 0) {
    const { bytesWritten } = await write(fd, pending);
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const chunk of pending) {
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      rest.push(skip > 0 ? chunk.subarray(skip) : chunk);
      skip = 0;
    }
    if (rest.length === pending.length && bytesWritten === 0) throw new Error('write made no progress');
    pending = rest;
  }
}

/**
 * A held message's file is opened O_DSYNC: its one writev returns once the bytes and the
 * metadata needed to read them back are on disk, as an fdatasync after it would, but in one
 * system call and one thread-pool round trip fewer (the intake profile at one client counted
 * six round trips per message: open, writev, fdatasync, close, rename, directory fsync).
 * A streamed message is written in many pieces and keeps one fdatasync at the end.
 */
const NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
const NEW_SYNCED_FILE = NEW_FILE | constants.O_DSYNC;

/** Below this, a message waits in memory and reaches the file in one write with its trailer. */
export const SMALL_MESSAGE_BYTES = 64 * 1024;

/**
 * The bytes of one message on their way to a new file, which is created only once they
 * outgrow SMALL_MESSAGE_BYTES: most mail is small, and a small message then costs one open,
 * one synchronous writev (O_DSYNC) and one close in all. Larger ones stream through with the
 * stream's back-pressure, so memory per session stays bounded whatever the size.
 * `seal` appends the last bytes and makes the file durable; nothing is durable before it.
 */
export class SpoolFileStream extends Writable {
  private fd: number | undefined;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private fdClosed = false;
  /**
   * The open or write under way, if any. close() waits for it: closing a descriptor while
   * a write to it is pending could let the number be reused by another message's file
   * and the late write land there.
   */
  private busy: Promise<void> = Promise.resolve();
  /** Bytes accepted so far, whether held or written. */
  bytes = 0;
  /** The whole message, when it was held in memory until seal (a small one). */
  heldMessage: Buffer | undefined;

  constructor(readonly path: string) {
    super({ highWaterMark: SMALL_MESSAGE_BYTES });
  }

  /** Whether a file exists on disk for this message (to remove when it is abandoned). */
  get created(): boolean {
    return this.fd !== undefined;
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    for (const { chunk } of chunks) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      this.bytes += chunk.length;
    }
    if (this.heldBytes <= SMALL_MESSAGE_BYTES) {
      callback();
      return;
    }
    this.flush().then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  /**
   * After end(), before seal: puts `header` before every byte so far (a header known only at
   * the end). A message still held in memory takes it for free; one on disk is rewritten.
   */
  async prepend(header: Buffer): Promise<void> {
    await this.busy;
    if (this.fd === undefined) {
      this.held.unshift(header);
      this.heldBytes += header.length;
    } else {
      this.busy = prependToFile(this.fd, this.path, this.bytes - this.heldBytes, header).then((fd) => {
        this.fd = fd;
      });
      await this.busy;
    }
    this.bytes += header.length;
  }

  /**
   * After end(), for a message that never left memory: the whole message, for the caller to
   * commit elsewhere (the spool's journal); no file is ever created for it.
   */
  takeHeldMessage(): Buffer | undefined {
    if (this.fd !== undefined) return undefined;
    this.heldMessage = Buffer.concat(this.held, this.heldBytes);
    this.held = [];
    this.heldBytes = 0;
    this.fdClosed = true;
    return this.heldMessage;
  }

  /** After end(): writes what is held and `last`, makes the file durable and closes it. */
  async seal(last: Buffer): Promise<void> {
    const held = this.fd === undefined;
    if (held) this.heldMessage = Buffer.concat(this.held, this.heldBytes);
    this.held.push(last);
    try {
      await this.flush(held ? NEW_SYNCED_FILE : NEW_FILE);
      if (this.fd === undefined) throw new Error('spool file was not created');
      if (!held) await fdatasyncFd(this.fd);
    } catch (error) {
      await this.close();
      throw error;
    }
    // The bytes are on disk and no write is pending: closing a local file is microseconds of
    // kernel work, cheaper here than as one more thread-pool round trip per message. A failed
    // close cannot undo what is durable, and Linux frees the descriptor either way.
    this.fdClosed = true;
    try {
      closeSync(this.fd);
    } catch {
      // nothing to undo
    }
  }

  /** Closes the file once no open or write is under way; safe to call more than once. */
  async close(): Promise<void> {
    await this.busy.catch(() => undefined);
    if (this.fdClosed || this.fd === undefined) return;
    this.fdClosed = true;
    await closeFd(this.fd);
  }

  private flush(flags = NEW_FILE): Promise<void> {
    this.busy = this.flushHeld(flags);
    return this.busy;
  }

  private async flushHeld(flags: number): Promise<void> {
    if (this.fdClosed) throw new Error('spool file already closed');
    this.fd ??= await openFd(this.path, flags, 0o640);
    const chunks = this.held;
    this.held = [];
    this.heldBytes = 0;
    await writeAll(this.fd, chunks);
  }
}
