import { close, copyFile, fdatasync, fsync, ftruncate, link, open, rename, unlink, writev } from 'node:fs';
import { promisify } from 'node:util';

/** The calls DirectorySync makes: a directory held open and fsynced (its entries made durable). */
export interface DirectoryFiles {
  readonly openDirectory: (path: string) => Promise<number>;
  readonly fsync: (fd: number) => Promise<void>;
  readonly close: (fd: number) => Promise<void>;
}

/**
 * The file operations on the journal's write side (the head's open, writes and syncs, the
 * directory's fsync, a dead segment's unlink), and the moves into quarantine/ (the journal's
 * copies, the spool's damaged queue files), as one object passed in: the default is the real
 * thing; a test passes a double that fails chosen calls (EIO, ENOSPC), so every path that
 * handles a failed write, sync, rotation or quarantine runs under test, and the order of the
 * calls can be checked. Reads and the scan at open use node:fs directly.
 */
export interface JournalFiles extends DirectoryFiles {
  readonly open: (path: string, flags: number, mode: number) => Promise<number>;
  /** May write fewer bytes than asked (a full disk): writeAll goes on with the rest. */
  readonly writev: (fd: number, chunks: readonly Buffer[]) => Promise<{ bytesWritten: number }>;
  readonly fdatasync: (fd: number) => Promise<void>;
  readonly ftruncate: (fd: number, length: number) => Promise<void>;
  readonly unlink: (path: string) => Promise<void>;
  readonly rename: (from: string, to: string) => Promise<void>;
  readonly copyFile: (from: string, to: string) => Promise<void>;
  /** A hard link; fails with EEXIST rather than replace a name. */
  readonly link: (existing: string, path: string) => Promise<void>;
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
  rename: promisify(rename),
  copyFile: promisify(copyFile),
  link: promisify(link),
};
