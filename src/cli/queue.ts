/** `mailwharf queue …`: list and show read the spool; the rest are operator commands. */
import { existsSync } from 'node:fs';
import {
  claimOfflineSequence,
  QUEUE_OPERATIONS,
  submitCommand,
  type QueueOperation,
} from '../delivery/control.js';
import { spoolServerAlive } from '../delivery/server-alive.js';
import {
  initialState,
  isFinal,
  parseState,
  queueStatus,
  serializeState,
  type DeliveryState,
} from '../delivery/state.js';
import { applyOperator } from '../delivery/transitions.js';
import { addressDomain } from '../pipeline/stages.js';
import type { Envelope } from '../spool/envelope.js';
import { SpoolLockedError } from '../spool/lock.js';
import { Spool } from '../spool/spool.js';
import { Limiter } from '../util/limiter.js';
import { describeOutcome } from '../delivery/outcome.js';
import { formatQueueTable } from './queue-table.js';
import { readStdin } from './stdin.js';

/** One open recipient as listed: its own status and reason. */
export interface ListedRecipient {
  readonly address: string;
  readonly status: string;
  readonly reason?: string;
}

export interface QueueEntry extends Envelope {
  /** held, deferred or queued (not tried yet, or due). */
  readonly status: 'held' | 'deferred' | 'queued';
  /** Recipients still to deliver (delivered and failed ones are done). */
  readonly open: readonly ListedRecipient[];
  readonly delivery?: DeliveryState;
}

export class QueueUsageError extends Error {}

/** State files read at once: a large queue must not open every file together (EMFILE). */
const FILES_AT_ONCE = 32;
const STATUSES = ['held', 'deferred', 'queued'] as const;

async function entries(spool: Spool): Promise<QueueEntry[]> {
  const envelopes = (await spool.list()).filter((e) => e.state === 'queued');
  const files = new Limiter(FILES_AT_ONCE);
  return Promise.all(
    envelopes.map((envelope) =>
      files.run(async () => {
        const text = await spool.readState(envelope.id);
        const delivery = text === undefined ? undefined : parseState(text);
        const open = (
          delivery?.recipients ??
          envelope.rcptTo.map((r) => ({ address: r.address, status: 'pending' as const }))
        )
          .filter((r) => !isFinal(r.status))
          .map((r): ListedRecipient => {
            const outcome = 'outcome' in r ? r.outcome : undefined;
            return {
              address: r.address,
              status: r.status,
              ...(outcome ? { reason: describeOutcome(outcome) } : {}),
            };
          });
        return { ...envelope, status: queueStatus(delivery), open, ...(delivery ? { delivery } : {}) };
      }),
    ),
  );
}

/** Waits (bounded) for the running server to take a command file. */
async function waitTaken(path: string, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (existsSync(path)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/**
 * The ids a command names: ids as given; "-" reads ids from stdin (one per line or
 * whitespace apart); ALL, optionally followed by a status (held, deferred, queued), selects
 * by status, like `postsuper -d ALL deferred`.
 */
async function selectIds(spool: Spool, op: QueueOperation, words: readonly string[]): Promise<string[]> {
  if (words[0] === 'ALL') {
    const wanted = words[1];
    if (wanted !== undefined && !STATUSES.includes(wanted as (typeof STATUSES)[number]))
      throw new QueueUsageError(`queue ${op} ALL takes held, deferred or queued, not ${wanted}`);
    return (await entries(spool)).filter((e) => wanted === undefined || e.status === wanted).map((e) => e.id);
  }
  const ids = words[0] === '-' ? (await readStdin()).split(/\s+/).filter((id) => id !== '') : [...words];
  const files = new Limiter(FILES_AT_ONCE);
  const missing = (
    await Promise.all(ids.map((id) => files.run(async () => ((await spool.envelope(id)) ? undefined : id))))
  ).filter((id) => id !== undefined);
  if (missing[0] !== undefined) throw new QueueUsageError(`no message ${missing[0]} in ${spool.dir}`);
  return ids;
}

/**
 * Runs `change` on the spool opened as a server opens it, under its lock: a server that starts
 * meanwhile waits (or refuses) instead of writing the journal's head at the same time, and a
 * torn tail is cut off by the recovery a writer does before it appends.
 */
async function withSpoolLocked<T>(dir: string, change: (spool: Spool) => Promise<T>): Promise<T> {
  let opened: Spool;
  try {
    ({ spool: opened } = await Spool.open(dir, { deferFileChecks: true }));
  } catch (error) {
    if (error instanceof SpoolLockedError) {
      throw new QueueUsageError(`a server started on ${dir} while the command ran: run it again`);
    }
    throw error;
  }
  try {
    return await change(opened);
  } finally {
    await opened.close();
  }
}

/** With no server running: the command applied to the spool's files by the same transition. */
async function applyOffline(spool: Spool, op: QueueOperation, ids: readonly string[]): Promise<number> {
  const seq = await claimOfflineSequence(spool);
  const now = new Date();
  let changed = 0;
  // Operator commands never expire a message nor warn of delay: those come with attempts.
  const policy = { giveUpAfterSeconds: Infinity, delayWarningSeconds: 0, retryDelaySeconds: () => 0 };
  for (const id of ids) {
    const envelope = await spool.envelope(id);
    if (envelope?.state !== 'queued') continue;
    const text = await spool.readState(id);
    const state =
      (text === undefined ? undefined : parseState(text)) ?? initialState(envelope, new Set(), addressDomain);
    const transition = applyOperator(state, envelope, { op, seq }, now, policy);
    if (transition.state === state) continue;
    changed++;
    // A removal with DSNs to send waits for the server: it sends the outbox, then removes.
    if (transition.actions.some((a) => a.type === 'remove') && transition.state.outbox.length === 0) {
      await spool.remove(id, { durable: true });
    } else {
      await spool.writeState(id, serializeState(transition.state));
    }
  }
  return changed;
}

export async function queueCommand(
  spool: Spool,
  args: readonly string[],
  flags: { json: boolean; envelope: boolean },
  out: NodeJS.WritableStream,
): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'list') {
    const list = await entries(spool);
    out.write(flags.json ? `${JSON.stringify(list, null, 2)}\n` : formatQueueTable(list));
    return 0;
  }
  if (sub === 'show' && rest[0] !== undefined) {
    const envelope = await spool.envelope(rest[0]);
    if (!envelope) throw new QueueUsageError(`no message ${rest[0]} in ${spool.dir}`);
    if (flags.envelope) {
      const text = await spool.readState(envelope.id);
      const delivery = text === undefined ? undefined : parseState(text);
      out.write(`${JSON.stringify(delivery ? { ...envelope, delivery } : envelope, null, 2)}\n`);
      return 0;
    }
    for await (const chunk of spool.readMessage(envelope)) out.write(chunk as Buffer);
    return 0;
  }
  if (QUEUE_OPERATIONS.includes(sub as QueueOperation)) {
    const op = sub as QueueOperation;
    if (op !== 'flush' && rest.length === 0)
      throw new QueueUsageError(`queue ${op} needs IDs, "-" (IDs on stdin) or ALL [held|deferred|queued]`);
    const ids = rest.length === 0 ? [] : await selectIds(spool, op, rest);
    if (rest.length > 0 && ids.length === 0) {
      out.write(`${op}: 0 message(s)\n`);
      return 0;
    }
    if (await spoolServerAlive(spool.dir)) {
      const path = await submitCommand(spool, { op, ids });
      if (!(await waitTaken(path))) {
        throw new QueueUsageError(
          `the running server did not take the ${op} command within 10 s; it stays queued in ${path}`,
        );
      }
      out.write(`${op}: handed to the running server\n`);
      return 0;
    }
    const targets = ids.length > 0 ? ids : (await entries(spool)).map((e) => e.id);
    const changed = await withSpoolLocked(spool.dir, (locked) => applyOffline(locked, op, targets));
    out.write(`${op}: ${String(changed)} message(s)\n`);
    return 0;
  }
  throw new QueueUsageError(
    'queue takes: list [--json] | show ID [--envelope] | flush [ID…] | hold|release|delete|bounce ID… | - (IDs on stdin) | ALL [held|deferred|queued]',
  );
}

export type { DeliveryState };
