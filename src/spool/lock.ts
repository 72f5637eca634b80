import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
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
    const alive = sameHost
      ? holder.pid !== process.pid && isProcessAlive(holder.pid)
      : holder.ageMs < LOCK_STALE_MS;
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

/**
 * Whether a process of this host is running. A killed process stays in the table as a zombie
 * until its parent reaps it, and `kill(pid, 0)` still succeeds on a zombie: a supervisor shell
 * that restarts the server right after a SIGKILL, before reaping the old one, would be told the
 * spool is in use by a dead process. So the state in /proc/PID/stat decides where it exists:
 * 'Z' (zombie) or 'X' (dead) is not running. Exported for every "is the server running" check
 * that starts from the spool lock (the queue CLI), so they all agree.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const state = procState(pid);
  if (state !== undefined) return state !== 'Z' && state !== 'X' && state !== 'x';
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user, so it is alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // No /proc here (not Linux): kill(pid, 0) is all there is to go on.
  return !existsSync('/proc/self/stat');
}

/** The one-letter state from /proc/PID/stat, or undefined when there is no such entry. */
function procState(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${String(pid)}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // "PID (COMM) S ...": COMM may itself hold spaces and parentheses, so take the last ')'.
  const close = stat.lastIndexOf(')');
  return close < 0 ? undefined : stat.charAt(close + 2) || undefined;
}

/** Who holds the spool's lock, and whether that holder still runs; undefined when unlocked. */
export async function spoolLockHolder(
  dir: string,
): Promise<{ readonly pid: number; readonly host: string; readonly alive: boolean } | undefined> {
  const holder = await readHolder(join(dir, 'lock'));
  if (!holder) return undefined;
  const me = hostname();
  const sameHost = holder.host === '' || holder.host === me;
  const alive = sameHost ? isProcessAlive(holder.pid) : holder.ageMs < LOCK_STALE_MS;
  return { pid: holder.pid, host: holder.host || me, alive };
}
