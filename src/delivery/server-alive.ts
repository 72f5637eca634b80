/**
 * Whether a server holds this spool, for the queue CLI: the spool lock's own liveness check
 * (a zombie counts as dead; another host's lock only while it is refreshed). This process's
 * own lock is no other server.
 */
import { spoolLockHolder } from '../spool/lock.js';

export async function spoolServerAlive(spoolDir: string): Promise<boolean> {
  const holder = await spoolLockHolder(spoolDir);
  return holder !== undefined && holder.alive && holder.pid !== process.pid;
}
