import { constants } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { realFiles, type DirectoryFiles, type JournalFiles } from './journal-files.js';

type FileSyncFiles = Pick<JournalFiles, 'open' | 'fdatasync' | 'close'>;
import { isErrno } from '../util/errno.js';

/**
 * Group commit for directory entries: many renames share one fsync of the directory.
 * A caller's promise resolves only after an fsync that *started after* its request,
 * so its rename is durable; requests that arrive while one fsync runs share the next.
 *
 * The directory stays open between fsyncs (until close): an open and a close per fsync were
 * two of the eight thread-pool round trips a message cost at one client. An fsync that
 * fails drops the descriptor, and the next opens the directory again.
 */
export class DirectorySync {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private descriptor: Promise<number> | undefined;

  constructor(
    private readonly dir: string,
    private readonly files: DirectoryFiles = realFiles,
  ) {}

  sync(): Promise<void> {
    if (!this.running) {
      this.running = this.fsyncOnce().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    // One is under way and may have started before our rename: wait for the one after it.
    this.next ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.sync();
      });
    return this.next;
  }

  /** Closes the directory once the fsyncs under way are done; a later sync opens it again. */
  async close(): Promise<void> {
    await this.next?.catch(() => undefined);
    await this.running?.catch(() => undefined);
    const descriptor = this.descriptor;
    this.descriptor = undefined;
    const fd = await descriptor?.catch(() => undefined);
    if (fd !== undefined) await this.files.close(fd);
  }

  private async fsyncOnce(): Promise<void> {
    const opening = (this.descriptor ??= this.files.openDirectory(this.dir));
    try {
      await this.files.fsync(await opening);
    } catch (error) {
      if (this.descriptor === opening) this.descriptor = undefined;
      const fd = await opening.catch(() => undefined);
      if (fd !== undefined) await this.files.close(fd).catch(() => undefined);
      throw error;
    }
  }
}

/**
 * mkdir -p, then an fsync of the parent of each directory it created: a new directory's entry
 * is durable only then, and a segment or quarantined copy in it is lost with it otherwise
 * (ext4 with its journal happens to order this; the standard does not promise it).
 */
export async function makeDirectoryDurably(files: DirectoryFiles, dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode: 0o750 });
  if (created === undefined) return;
  for (let path = dir; ; path = dirname(path)) {
    await syncDirectory(files, dirname(path));
    if (path === created || dirname(path) === path) return;
  }
}

/** Why a directory above the spool may not sync, and the start goes on (see syncDirectoryChain). */
const ABOVE_THE_SPOOL_SKIPPED = ['EACCES', 'EPERM', 'EINVAL', 'ENOTSUP', 'EROFS'];

/**
 * An fsync of `dir` and of each directory above it, whether or not this start made them: a
 * kill between an earlier mkdir and its parent's fsync (makeDirectoryDurably) would otherwise
 * leave that entry never synced. A few fsyncs once per start.
 */
export async function syncDirectoryChain(files: DirectoryFiles, dir: string): Promise<void> {
  await syncDirectory(files, dir);
  for (let path = dirname(dir); ; path = dirname(path)) {
    // A directory above the spool may be one this user can pass through but not open (mode
    // 0711, say), or on a filesystem that cannot sync a directory (squashfs, a read-only
    // mount): nothing this start made is in it then, and the spool must still start.
    await syncDirectory(files, path).catch((error: unknown) => {
      if (!ABOVE_THE_SPOOL_SKIPPED.some((code) => isErrno(error, code))) throw error;
    });
    if (dirname(path) === path) return;
  }
}

/** One fsync of a directory, opened for it and closed after. */
export async function syncDirectory(files: DirectoryFiles, dir: string): Promise<void> {
  const fd = await files.openDirectory(dir);
  try {
    await files.fsync(fd);
  } finally {
    await files.close(fd);
  }
}

/** One fdatasync of a file, opened for it and closed after. */
export async function syncFile(files: FileSyncFiles, path: string): Promise<void> {
  const fd = await files.open(path, constants.O_RDWR, 0);
  try {
    await files.fdatasync(fd);
  } finally {
    await files.close(fd);
  }
}
