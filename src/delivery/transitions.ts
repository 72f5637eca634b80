/**
 * The delivery state machine, as pure functions (no I/O, no clock, no randomness: all passed in).
 *
 * Each recipient is pending → (deferred ↔ deferred)* → delivered | failed; captured ones are
 * final from the start. After every attempt, and after every operator command:
 *   - a failed recipient is reported at once (a "failed" DSN), not when the slowest
 *     recipient settles; a recipient delivered to a hop without DSN is reported "relayed"
 *     when the sender asked NOTIFY=SUCCESS; a recipient still deferred after the warning
 *     age gets one "delayed" DSN; each as its NOTIFY allows, never to the null sender;
 *   - a message older than the give-up age fails its open recipients (Status 4.4.7);
 *   - the message is removed once every recipient is final (a captured recipient's copy is the
 *     sink's own, made when the message was accepted: sink/relay-capture.ts).
 * DSNs go to the state's outbox first, so the worker queues them only after the state that
 * causes them is durable, and again after a crash in between (at least once, never lost).
 */
import type { Recipient } from '../spool/envelope.js';
import { isSuccess, localOutcome, type Outcome, type RecipientResult } from './outcome.js';
import { isFinal, type DeliveryState, type Notice, type NoticeKind, type RecipientState } from './state.js';

export interface RetryPolicy {
  readonly giveUpAfterSeconds: number;
  /** 0: never warn. */
  readonly delayWarningSeconds: number;
  /** Seconds until the next attempt after `attempts` attempts (jitter is the caller's). */
  readonly retryDelaySeconds: (attempts: number) => number;
}

/** What the state machine needs of the envelope. */
export interface MessageFacts {
  readonly receivedAt: string;
  readonly mailFrom: string;
  readonly rcptTo: readonly Recipient[];
}

export type Action =
  | { readonly type: 'notify'; readonly notice: Notice }
  /** Every recipient is final: the message goes (after the outbox is sent). */
  | { readonly type: 'remove' }
  | { readonly type: 'retry'; readonly at: string };

export interface Transition {
  readonly state: DeliveryState;
  readonly actions: readonly Action[];
}

/** RFC 3461 §4.1: no NOTIFY means FAILURE and DELAY (SUCCESS only when asked for). */
export function wantsNotice(notify: readonly string[] | undefined, kind: NoticeKind): boolean {
  const wanted = kind === 'failed' ? 'FAILURE' : kind === 'delayed' ? 'DELAY' : 'SUCCESS';
  if (notify === undefined) return kind !== 'relayed';
  return notify.includes(wanted);
}

export function applyResults(
  state: DeliveryState,
  message: MessageFacts,
  results: readonly RecipientResult[],
  now: Date,
  policy: RetryPolicy,
): Transition {
  const at = now.toISOString();
  const byAddress = new Map(results.map((r) => [r.address, r]));
  let recipients = state.recipients.map((r): RecipientState => {
    const result = byAddress.get(r.address);
    if (!result || isFinal(r.status)) return r;
    const status = isSuccess(result.outcome) ? 'delivered' : result.outcome.permanent ? 'failed' : 'deferred';
    return {
      ...withoutOutcome(r),
      status,
      outcome: result.outcome,
      at,
      ...(status === 'delivered' && result.relayed === true ? { relayed: true } : {}),
    };
  });
  if (now.getTime() - Date.parse(message.receivedAt) >= policy.giveUpAfterSeconds * 1000) {
    recipients = recipients.map((r) => (isFinal(r.status) ? r : expire(r, policy.giveUpAfterSeconds, at)));
  }
  // Recipients held back by our own rate limit were not attempted: no attempt is counted for
  // them, and the message is due again when the first of them may go (sooner than a retry).
  const waits = results.flatMap((r) => (r.postponedMs === undefined ? [] : [r.postponedMs]));
  const attempted = waits.length === 0 || waits.length < results.length;
  const attempts = attempted ? state.attempts + 1 : state.attempts;
  const retryAt = attempted ? now.getTime() + policy.retryDelaySeconds(attempts) * 1000 : Infinity;
  const next: DeliveryState = {
    ...state,
    attempts,
    recipients,
    nextAttemptAt: new Date(Math.min(retryAt, now.getTime() + Math.min(...waits))).toISOString(),
  };
  return settle(next, message, now, policy);
}

export type OperatorOp = 'hold' | 'release' | 'flush' | 'bounce' | 'delete';

/**
 * An operator command. `seq` orders commands: one no newer than the last applied to this
 * message is stale (a command left in control/ while the operator said otherwise since).
 */
export function applyOperator(
  state: DeliveryState,
  message: MessageFacts,
  command: { readonly op: OperatorOp; readonly seq: number },
  now: Date,
  policy: RetryPolicy,
): Transition {
  if (command.seq <= state.commandSeq) return { state, actions: [] };
  const at = now.toISOString();
  const base: DeliveryState = { ...state, commandSeq: command.seq };
  switch (command.op) {
    case 'hold':
      return { state: { ...base, held: true }, actions: [] };
    case 'release':
      return { state: { ...base, held: false, nextAttemptAt: at }, actions: [{ type: 'retry', at }] };
    case 'flush':
      // "Retry now", but a held message stays held.
      return base.held
        ? { state: base, actions: [] }
        : { state: { ...base, nextAttemptAt: at }, actions: [{ type: 'retry', at }] };
    case 'delete':
      return { state: base, actions: [{ type: 'remove' }] };
    case 'bounce': {
      const returned = localOutcome('5.0.0', 'returned to the sender by the operator');
      const recipients = base.recipients.map((r): RecipientState =>
        isFinal(r.status) ? r : { ...withoutOutcome(r), status: 'failed', outcome: returned, at },
      );
      return settle({ ...base, held: false, recipients }, message, now, policy);
    }
  }
}

/** Decides DSNs and what becomes of the message, from recipients already updated. */
function settle(state: DeliveryState, message: MessageFacts, now: Date, policy: RetryPolicy): Transition {
  const notifyOf = new Map(message.rcptTo.map((r) => [r.address, r.notify]));
  // Never answer the null sender: that is how bounce loops start.
  const answer = message.mailFrom !== '';
  const warnDue =
    policy.delayWarningSeconds > 0 &&
    now.getTime() - Date.parse(message.receivedAt) >= policy.delayWarningSeconds * 1000;
  const lists: Record<NoticeKind, string[]> = { failed: [], relayed: [], delayed: [] };
  const recipients = state.recipients.map((r): RecipientState => {
    const kind: NoticeKind | undefined =
      r.status === 'failed'
        ? 'failed'
        : r.status === 'delivered' && r.relayed === true
          ? 'relayed'
          : undefined;
    if (kind !== undefined && r.reported !== true) {
      if (answer && wantsNotice(notifyOf.get(r.address), kind)) lists[kind].push(r.address);
      return { ...r, reported: true };
    }
    if (r.status === 'deferred' && warnDue && r.warned !== true) {
      if (answer && wantsNotice(notifyOf.get(r.address), 'delayed')) lists.delayed.push(r.address);
      return { ...r, warned: true };
    }
    return r;
  });
  const notices = (['failed', 'relayed', 'delayed'] as const)
    .filter((kind) => lists[kind].length > 0)
    .map((kind): Notice => ({ kind, recipients: lists[kind] }));
  const next: DeliveryState = { ...state, recipients, outbox: [...state.outbox, ...notices] };
  const actions: Action[] = notices.map((notice) => ({ type: 'notify', notice }));
  if (recipients.every((r) => isFinal(r.status))) {
    actions.push({ type: 'remove' });
  } else {
    actions.push({ type: 'retry', at: next.nextAttemptAt });
  }
  return { state: next, actions };
}

function expire(r: RecipientState, giveUpAfterSeconds: number, at: string): RecipientState {
  const last: Outcome | undefined = r.outcome;
  const text = `gave up: still undeliverable after ${String(giveUpAfterSeconds)} s${last ? ` (${last.text})` : ''}`;
  return {
    ...withoutOutcome(r),
    status: 'failed',
    // RFC 3463 4.4.7 "delivery time expired": the status stays persistent-transient, the action is failed.
    outcome: { ...localOutcome('4.4.7', text, last?.remoteMta), permanent: true },
    at,
  };
}

function withoutOutcome(r: RecipientState): RecipientState {
  return {
    address: r.address,
    status: r.status,
    ...(r.at === undefined ? {} : { at: r.at }),
    ...(r.reported === undefined ? {} : { reported: r.reported }),
    ...(r.warned === undefined ? {} : { warned: r.warned }),
  };
}
