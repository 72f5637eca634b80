/**
 * Operator commands on the queue (flush, hold, release, delete, bounce). The CLI drops a
 * command file into spool/control/; a running server applies it between delivery attempts
 * and removes the file. With no server running, the CLI applies it itself, with the same
 * functions, so there is one meaning of each command.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { addressDomain } from '../pipeline/stages.js';
import type { Envelope } from '../spool/envelope.js';
import type { Spool } from '../spool/spool.js';
import { initialState, isFinal, parseState, type DeliveryState } from './state.js';

export const QUEUE_OPERATIONS = ['flush', 'hold', 'release', 'delete', 'bounce'] as const;
export type QueueOperation = (typeof QUEUE_OPERATIONS)[number];

export interface ControlCommand {
  readonly op: QueueOperation;
  /** Empty means every queued message (flush only). */
  readonly ids: readonly string[];
}

export function controlDir(spool: Spool): string {
  return join(spool.dir, 'control');
}

export function pidFile(spool: Spool): string {
  return join(spool.dir, 'mailwharf.pid');
}

/** Writes a command for the running server, atomically (temp name, then rename). */
export async function submitCommand(spool: Spool, command: ControlCommand): Promise<string> {
  const dir = controlDir(spool);
  await mkdir(dir, { recursive: true });
  const name = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}.json`;
  await writeFile(join(dir, `.${name}`), JSON.stringify(command));
  await rename(join(dir, `.${name}`), join(dir, name));
  return join(dir, name);
}

function parseCommand(text: string): ControlCommand | undefined {
  try {
    const value = JSON.parse(text) as { op?: unknown; ids?: unknown };
    if (!QUEUE_OPERATIONS.includes(value.op as QueueOperation)) return undefined;
    if (!Array.isArray(value.ids) || !value.ids.every((id) => typeof id === 'string')) return undefined;
    return { op: value.op as QueueOperation, ids: value.ids };
  } catch {
    return undefined;
  }
}

/** Pending command files, oldest first; each is removed once `apply` has run. */
export async function drainCommands(
  spool: Spool,
  apply: (command: ControlCommand) => Promise<void>,
): Promise<void> {
  const dir = controlDir(spool);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith('.json') && !name.startsWith('.')).sort();
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    const command = parseCommand(await readFile(path, 'utf8').catch(() => ''));
    if (command) await apply(command);
    await rm(path, { force: true });
  }
}

async function stateOf(spool: Spool, envelope: Envelope): Promise<DeliveryState> {
  const text = await spool.readState(envelope.id);
  return (
    (text === undefined ? undefined : parseState(text)) ?? initialState(envelope, new Set(), addressDomain)
  );
}

/** Applies a command to the spool's files. Returns the ids it changed. */
export async function applyCommand(spool: Spool, command: ControlCommand, now: Date): Promise<string[]> {
  const queued = (await spool.list()).filter((envelope) => envelope.state === 'queued');
  const targets =
    command.ids.length === 0 ? queued : queued.filter((envelope) => command.ids.includes(envelope.id));
  const changed: string[] = [];
  for (const envelope of targets) {
    if (command.op === 'delete') {
      await spool.remove(envelope.id);
      changed.push(envelope.id);
      continue;
    }
    const state = await stateOf(spool, envelope);
    const at = now.toISOString();
    const next: DeliveryState =
      command.op === 'hold'
        ? { ...state, held: true }
        : command.op === 'bounce'
          ? {
              ...state,
              held: false,
              nextAttemptAt: at,
              recipients: state.recipients.map((r) =>
                isFinal(r.status)
                  ? r
                  : { ...r, status: 'failed', reason: '5.0.0 returned to the sender by the operator', at },
              ),
            }
          : command.op === 'release'
            ? { ...state, held: false, nextAttemptAt: at }
            : { ...state, nextAttemptAt: at }; // flush: now, but a held message stays held
    await spool.writeState(envelope.id, `${JSON.stringify(next, null, 2)}\n`);
    changed.push(envelope.id);
  }
  return changed;
}

/** True when a server process holds this spool (its pid file names a live process). */
export async function serverRunning(spool: Spool): Promise<boolean> {
  const text = await readFile(pidFile(spool), 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
