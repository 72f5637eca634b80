/** `mailwharf queue …`: list and show read the spool; the rest are operator commands. */
import { existsSync } from 'node:fs';
import {
  applyCommand,
  QUEUE_OPERATIONS,
  serverRunning,
  submitCommand,
  type QueueOperation,
} from '../delivery/control.js';
import { parseState, type DeliveryState } from '../delivery/state.js';
import type { Envelope } from '../spool/envelope.js';
import type { Spool } from '../spool/spool.js';
import { formatQueueTable } from './queue-table.js';

export interface QueueEntry extends Envelope {
  readonly delivery?: DeliveryState;
}

export class QueueUsageError extends Error {}

async function entries(spool: Spool): Promise<QueueEntry[]> {
  const envelopes = await spool.list();
  return Promise.all(
    envelopes.map(async (envelope) => {
      const text = await spool.readState(envelope.id);
      const delivery = text === undefined ? undefined : parseState(text);
      return delivery ? { ...envelope, delivery } : envelope;
    }),
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

export async function queueCommand(
  spool: Spool,
  args: readonly string[],
  flags: { json: boolean; envelope: boolean },
  out: NodeJS.WritableStream,
): Promise<number> {
  const [sub, ...ids] = args;
  if (sub === 'list') {
    const list = await entries(spool);
    out.write(flags.json ? `${JSON.stringify(list, null, 2)}\n` : formatQueueTable(list));
    return 0;
  }
  if (sub === 'show' && ids[0] !== undefined) {
    const envelope = await spool.envelope(ids[0]);
    if (!envelope) throw new QueueUsageError(`no message ${ids[0]} in ${spool.dir}`);
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
    if (op !== 'flush' && ids.length === 0) throw new QueueUsageError(`queue ${op} needs at least one ID`);
    for (const id of ids) {
      if (!(await spool.envelope(id))) throw new QueueUsageError(`no message ${id} in ${spool.dir}`);
    }
    if (await serverRunning(spool)) {
      const path = await submitCommand(spool, { op, ids });
      if (!(await waitTaken(path))) {
        throw new QueueUsageError(
          `the running server did not take the ${op} command within 10 s; it stays queued in ${path}`,
        );
      }
      out.write(`${op}: handed to the running server\n`);
      return 0;
    }
    const changed = await applyCommand(spool, { op, ids }, new Date());
    out.write(`${op}: ${String(changed.length)} message(s)\n`);
    return 0;
  }
  throw new QueueUsageError(
    'queue takes: list [--json] | show ID [--envelope] | flush [ID…] | hold ID… | release ID… | delete ID… | bounce ID…',
  );
}
