import { open, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** Another live process (or this one) holds the spool: two servers would each "recover" the other's files. */
export class SpoolLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(
      pid === process.pid
        ? `spool ${dir} is already open in this process`
        : `spool ${dir} is in use by process ${String(pid)} (remove ${join(dir, 'lock')} only if no mailwharf runs there)`,
    );
    this.name = 'SpoolLockedError';
  }
}

/** Spools open in this process: a pid file cannot tell two opens by one process apart. */
const openHere = new Set<string>();

/**
 * Takes the spool's lock file (`lock`, holding our pid) or throws SpoolLockedError.
 * A lock naming a process that no longer exists is stale (a crash, a kill -9) and is taken over.
 * Returns the release function.
 */
export async function lockSpool(dir: string): Promise<() => Promise<void>> {
  const key = resolve(dir);
  if (openHere.has(key)) throw new SpoolLockedError(dir, process.pid);
  const path = join(dir, 'lock');
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o640);
      try {
        await handle.writeFile(`${String(process.pid)}\n`);
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
      const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new SpoolLockedError(dir, holder);
      }
      // Stale: its process is gone (or it is our own pid, left by a previous life of this pid).
      await rm(path, { force: true });
    }
  }
  openHere.add(key);
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    openHere.delete(key);
    await rm(path, { force: true });
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user, so it is alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
