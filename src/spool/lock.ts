import { randomBytes } from 'node:crypto';
import { link, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

/** Another live server (or this process) holds the spool: two servers would each "recover" the other's files. */
export class SpoolLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number,
    readonly host?: string,
  ) {
    const holder = host === undefined ? `process ${String(pid)}` : `process ${String(pid)} on host ${host}`;
    super(
      pid === process.pid && host === undefined
        ? `spool ${dir} is already open in this process`
        : `spool ${dir} is in use by ${holder} (remove ${join(dir, 'lock')} only if no mailwharf runs there)`,
    );
    this.name = 'SpoolLockedError';
  }
}

/** A holder refreshes its lock this often, so a server on another host can tell it is alive. */
export const LOCK_HEARTBEAT_MS = 10_000;
/** A lock from another host untouched for this long belongs to a server that is gone. */
export const LOCK_STALE_MS = 3 * LOCK_HEARTBEAT_MS;

/** Spools open in this process: a pid in a file cannot tell two opens by one process apart. */
const openHere = new Set<string>();

interface Holder {
  readonly pid: number;
  readonly host: string;
  readonly text: string;
  readonly ageMs: number;
}

/**
 * Takes the spool's lock file (`lock`: "PID HOSTNAME") or throws SpoolLockedError, and keeps it
 * fresh while held. The lock is stale, and taken over, when it names a process of this host
 * that no longer exists (a crash, a kill -9; also our own pid, left by an earlier life of this
 * pid in a restarted container), or comes from another host (a spool on shared storage) and has
 * not been refreshed for LOCK_STALE_MS. Returns the release function.
 */
export async function lockSpool(
  dir: string,
  options: { heartbeatMs?: number } = {},
): Promise<() => Promise<void>> {
  const key = resolve(dir);
  if (openHere.has(key)) throw new SpoolLockedError(dir, process.pid);
  // Reserved before the first await, so two opens started together in this process cannot
  // both get past here (the second would take our own pid in the file for a stale one).
  openHere.add(key);
  try {
    return await acquire(dir, key, options);
  } catch (error) {
    openHere.delete(key);
    throw error;
  }
}

async function acquire(
  dir: string,
  key: string,
  options: { heartbeatMs?: number },
): Promise<() => Promise<void>> {
  const path = join(dir, 'lock');
  const me = hostname();
  let holder: Holder | undefined;
  for (let attempt = 0; ; attempt++) {
    if (await create(path, `${String(process.pid)} ${me}\n`)) break;
    const previous = holder;
    holder = await readHolder(path);
    if (!holder) continue; // released meanwhile: try again
    const sameHost = holder.host === '' || holder.host === me;
    const alive = sameHost ? holder.pid !== process.pid && isAlive(holder.pid) : holder.ageMs < LOCK_STALE_MS;
    // Alive, or still there after several take-overs (another starter keeps winning).
    if (alive || (attempt >= 4 && previous !== undefined)) {
      throw new SpoolLockedError(dir, holder.pid, sameHost ? undefined : holder.host);
    }
    await takeOver(path, holder.text);
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined);
  }, options.heartbeatMs ?? LOCK_HEARTBEAT_MS);
  heartbeat.unref();
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    clearInterval(heartbeat);
    openHere.delete(key);
    await rm(path, { force: true });
  };
}

/** Creates the lock with its content in one step (link of a finished file): never seen half-written. */
async function create(path: string, text: string): Promise<boolean> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}`;
  await writeFile(temporary, text, { mode: 0o640 });
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(temporary, { force: true });
  }
}

async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    const [pid = '', host = ''] = text.trim().split(/\s+/);
    return { pid: Number(pid), host, text, ageMs: Date.now() - info.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Moves a stale lock aside, but only the one judged stale: if another starter replaced it in
 * the meantime, theirs is put back (link: never over a newer one) and the caller looks again.
 */
async function takeOver(path: string, staleText: string): Promise<void> {
  const aside = `${path}.stale.${randomBytes(6).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if ((await readFile(aside, 'utf8')) !== staleText) await link(aside, path).catch(() => undefined);
  await rm(aside, { force: true });
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user, so it is alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
