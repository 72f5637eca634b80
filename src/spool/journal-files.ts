import { close, fdatasync, fsync, ftruncate, open, unlink, writev } from 'node:fs';
import { promisify } from 'node:util';

/** The calls DirectorySync makes: a directory held open and fsynced (its entries made durable). */
export interface DirectoryFiles {
  readonly openDirectory: (path: string) => Promise<number>;
  readonly fsync: (fd: number) => Promise<void>;
  readonly close: (fd: number) => Promise<void>;
}

/**
 * The file operations on the journal's write side (the head's open, writes and syncs, the
 * directory's fsync, a dead segment's unlink), as one object passed in: the default is the
 * real thing; a test passes a double that fails chosen calls (EIO, ENOSPC), so every path
 * that handles a failed write, sync or rotation runs under test. Reads and the scan at open
 * use node:fs directly.
 */
export interface JournalFiles extends DirectoryFiles {
  readonly open: (path: string, flags: number, mode: number) => Promise<number>;
  /** May write fewer bytes than asked (a full disk): writeAll goes on with the rest. */
  readonly writev: (fd: number, chunks: readonly Buffer[]) => Promise<{ bytesWritten: number }>;
  readonly fdatasync: (fd: number) => Promise<void>;
  readonly ftruncate: (fd: number, length: number) => Promise<void>;
  readonly unlink: (path: string) => Promise<void>;
}

const openFd = promisify(open);

/** node:fs itself; each method is the promisified call, so the hot path adds one indirect call. */
export const realFiles: JournalFiles = {
  open: openFd,
  openDirectory: (path) => openFd(path, 'r'),
  writev: promisify(writev),
  fdatasync: promisify(fdatasync),
  fsync: promisify(fsync),
  ftruncate: promisify(ftruncate),
  close: promisify(close),
  unlink: promisify(unlink),
};
