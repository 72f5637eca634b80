/**
 * Whether a server holds this spool, from the spool lock ("PID HOST", refreshed by its
 * holder): the same test the lock's own take-over uses, and a zombie counts as dead (a
 * killed server whose parent has not reaped it still answers kill(pid, 0)). Lives here until
 * src/spool/lock.ts exports its zombie-aware check.
 */
import { readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LOCK_STALE_MS } from '../spool/lock.js';

export async function spoolServerAlive(spoolDir: string): Promise<boolean> {
  const path = join(spoolDir, 'lock');
  let text: string;
  let mtimeMs: number;
  try {
    [text, { mtimeMs }] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
  } catch {
    return false;
  }
  const [pidText = '', host = ''] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (host !== '' && host !== hostname()) return Date.now() - mtimeMs < LOCK_STALE_MS;
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  return processAlive(pid);
}

async function processAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // /proc/PID/stat: "pid (comm) STATE …"; the name may hold spaces and parentheses.
  const stat = await readFile(`/proc/${String(pid)}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return true; // no procfs: trust kill(0)
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}
