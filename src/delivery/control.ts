/**
 * Operator commands on the queue (flush, hold, release, delete, bounce). The CLI drops a
 * numbered command file into spool/control/; a running server applies them in number order
 * and removes them. With no server running, the CLI applies the command itself, with the
 * same transition (applyOperator), and records the number in each message's state: a
 * command left behind in control/ that is older than what the operator said since is
 * skipped for that message (the last word wins).
 */
import { link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { QUEUE_OPERATIONS, type ControlCommand, type QueueOperation } from './control-command.js';
import type { Spool } from '../spool/spool.js';

export { QUEUE_OPERATIONS, type ControlCommand, type QueueOperation };

export function controlDir(spool: Spool): string {
  return join(spool.dir, 'control');
}

const SEQUENCE_FILE = 'sequence';
const COMMAND_FILE = /^(\d{12})\.json$/;

async function lastSequence(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let last = Number((await readFile(join(dir, SEQUENCE_FILE), 'utf8').catch(() => '0')).trim()) || 0;
  for (const name of names) {
    const seq = Number(COMMAND_FILE.exec(name)?.[1] ?? 0);
    if (seq > last) last = seq;
  }
  return last;
}

/**
 * The next command number: one past both the counter file and any command file waiting.
 * The command file itself is created exclusively, so two CLIs never share a number.
 */
export async function nextSequence(spool: Spool, claim: (seq: number) => Promise<boolean>): Promise<number> {
  const dir = controlDir(spool);
  await mkdir(dir, { recursive: true });
  for (let seq = (await lastSequence(dir)) + 1; ; seq++) {
    if (await claim(seq)) {
      await writeFile(join(dir, `.${SEQUENCE_FILE}`), `${String(seq)}\n`);
      await rename(join(dir, `.${SEQUENCE_FILE}`), join(dir, SEQUENCE_FILE));
      return seq;
    }
  }
}

/** Writes a numbered command for the running server, whole (temp name, then an exclusive link). */
export async function submitCommand(spool: Spool, command: Omit<ControlCommand, 'seq'>): Promise<string> {
  const dir = controlDir(spool);
  let path = '';
  await nextSequence(spool, async (seq) => {
    const name = `${String(seq).padStart(12, '0')}.json`;
    const temporary = join(dir, `.${name}.${String(process.pid)}`);
    await writeFile(temporary, JSON.stringify({ ...command, seq }));
    try {
      await link(temporary, join(dir, name));
      path = join(dir, name);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      await rm(temporary, { force: true });
    }
  });
  return path;
}

/** A number for a command the CLI applies itself (no server): counted like the others. */
export function claimOfflineSequence(spool: Spool): Promise<number> {
  return nextSequence(spool, () => Promise.resolve(true));
}

export function parseCommand(text: string): ControlCommand | undefined {
  try {
    const value = JSON.parse(text) as { op?: unknown; ids?: unknown; seq?: unknown };
    if (!QUEUE_OPERATIONS.includes(value.op as QueueOperation)) return undefined;
    if (!Array.isArray(value.ids) || !value.ids.every((id) => typeof id === 'string')) return undefined;
    if (typeof value.seq !== 'number' || !Number.isInteger(value.seq) || value.seq <= 0) return undefined;
    return { op: value.op as QueueOperation, ids: value.ids, seq: value.seq };
  } catch {
    return undefined;
  }
}

/**
 * Pending command files in number order; each is removed once `apply` has run. A file that
 * is not a command is moved to control/quarantine/ and reported, never silently dropped.
 */
export async function drainCommands(
  spool: Spool,
  apply: (command: ControlCommand) => Promise<void>,
  malformed: (name: string, movedTo: string) => void,
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
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text === undefined) continue; // taken meanwhile
    const command = COMMAND_FILE.test(name) ? parseCommand(text) : undefined;
    if (!command) {
      const quarantine = join(dir, 'quarantine');
      await mkdir(quarantine, { recursive: true });
      await rename(path, join(quarantine, name)).catch(() => undefined);
      malformed(name, join(quarantine, name));
      continue;
    }
    await apply(command);
    await rm(path, { force: true });
  }
}
