import { randomBytes } from 'node:crypto';
import { close, constants, mkdir, open, unlink } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const openFd = promisify(open);
const closeFd = promisify(close);
const unlinkFile = promisify(unlink);
const mkdirs = promisify(mkdir);

/** Created as a small message's file is (spool-file.ts): new, exclusive, each write synchronous. */
const SPARE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DSYNC;

/** An empty file made ahead, open and ready for one small message's single synchronous write. */
export interface SpareFile {
  readonly fd: number;
  readonly path: string;
}

/**
 * Empty files created ahead of need, so that a small message's commit starts with its write:
 * creating a file was the slowest step of the commit on the ext4 the bench runs on (about
 * 1-2 ms of system CPU, mostly the inode allocator stepping over recently deleted inodes,
 * against 0.1 ms for the rename), and it sat between the end of DATA and the 250.
 *
 * A spare is nothing more than a file in the spool's `spare/` directory that no message
 * names yet: nothing durable depends on it, so it is never synced, and open() removes any
 * a crash left (as it does tmp/). The message written into it is made durable exactly as
 * one in a file created at its commit: synchronous write, rename into queue/, fsync of
 * queue/ (see Spool).
 *
 * Refills run one create at a time after each commit, on the thread pool: they use the time
 * a client spends on its next commands. None is made before the first commit, so a spool
 * opened by a command that stores nothing leaves no file.
 */
export class SpareFiles {
  private readonly ready: SpareFile[] = [];
  private refilling: Promise<void> | undefined;
  private closed = false;
  private made = 0;
  private readonly prefix = randomBytes(4).toString('hex');

  constructor(
    readonly dir: string,
    private readonly target = SPARES,
  ) {}

  /** A spare to write into, or undefined when none is ready (the caller creates its own). */
  take(): SpareFile | undefined {
    return this.ready.pop();
  }

  /**
   * Makes spares up to the target, one at a time, unless that is under way. Called after a
   * commit rather than at take: a create beside the commit's own write would compete with it.
   */
  refill(): void {
    if (this.refilling || this.closed || this.ready.length >= this.target) return;
    this.refilling = this.fill().finally(() => {
      this.refilling = undefined;
    });
  }

  /** Stops refills, closes the spares and removes their files. */
  async close(): Promise<void> {
    this.closed = true;
    await this.refilling;
    const spares = this.ready.splice(0);
    await Promise.all(spares.map((spare) => release(spare)));
  }

  private async fill(): Promise<void> {
    try {
      if (this.made === 0) await mkdirs(this.dir, { recursive: true, mode: 0o750 });
      while (!this.closed && this.ready.length < this.target) {
        this.made += 1;
        const path = join(this.dir, `${this.prefix}-${String(this.made)}.eml`);
        // One made while close waits for this loop is released by close, after it.
        this.ready.push({ fd: await openFd(path, SPARE_FLAGS, 0o640), path });
      }
    } catch {
      // No spare this time (a full disk, no descriptors left): commits create their own file
      // and meet the same error there, where it is answered. The next commit tries again.
    }
  }
}

/** Spares kept ready: one covers a client sending message after message; a few, a burst. */
export const SPARES = 4;

async function release(spare: SpareFile): Promise<void> {
  await closeFd(spare.fd).catch(() => undefined);
  await unlinkFile(spare.path).catch(() => undefined);
}
