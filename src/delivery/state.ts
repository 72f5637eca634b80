/**
 * The mutable half of a queued message: per-recipient outcomes, the schedule and the DSNs
 * still to send, kept in queue/ID.state.json beside the immutable envelope. Absent means
 * "nothing tried yet". Transitions live in transitions.ts; this file is the shape and its
 * parsing (a state file is input like any other).
 */
import { isRecord } from '../util/is-record.js';
import type { Envelope } from '../spool/envelope.js';
import { replyOutcome, localOutcome, type Outcome } from './outcome.js';

export type RecipientStatus = 'pending' | 'deferred' | 'delivered' | 'failed' | 'captured';

export interface RecipientState {
  readonly address: string;
  readonly status: RecipientStatus;
  /** The last attempt's outcome for this recipient. */
  readonly outcome?: Outcome;
  readonly at?: string;
  /** Delivered to a hop without DSN (a NOTIFY=SUCCESS sender gets a "relayed" DSN). */
  readonly relayed?: boolean;
  /** The DSN this recipient's status calls for was queued (failed, relayed or delayed). */
  readonly reported?: boolean;
  readonly warned?: boolean;
}

export type NoticeKind = 'failed' | 'delayed' | 'relayed';

/** A DSN to queue to the sender: the outbox, sent after the state naming it is durable. */
export interface Notice {
  readonly kind: NoticeKind;
  readonly recipients: readonly string[];
}

export interface DeliveryState {
  readonly version: 2;
  readonly attempts: number;
  readonly nextAttemptAt: string;
  /** Held by the operator: never attempted until released. */
  readonly held: boolean;
  readonly recipients: readonly RecipientState[];
  /** DSNs decided but not yet queued (a crash in between sends them after the restart). */
  readonly outbox: readonly Notice[];
  /** The sequence number of the last operator command applied (older ones are stale). */
  readonly commandSeq: number;
  /** The message has 8-bit bytes (found once, on the first attempt). */
  readonly eightBit?: boolean;
  /**
   * The DKIM-Signature header made before the first attempt and sent on every attempt, so
   * retries carry the same signature; "" when the message is sent unsigned (no key applies).
   */
  readonly dkimSignature?: string;
}

export function initialState(
  envelope: Envelope,
  captureDomains: ReadonlySet<string>,
  domainOf: (a: string) => string,
): DeliveryState {
  return {
    version: 2,
    attempts: 0,
    nextAttemptAt: envelope.receivedAt,
    held: false,
    outbox: [],
    commandSeq: 0,
    recipients: envelope.rcptTo.map((rcpt) => ({
      address: rcpt.address,
      status: captureDomains.has(domainOf(rcpt.address)) ? 'captured' : 'pending',
    })),
  };
}

export function isFinal(status: RecipientStatus): boolean {
  return status === 'delivered' || status === 'failed' || status === 'captured';
}

export function openRecipients(state: DeliveryState): RecipientState[] {
  return state.recipients.filter((r) => !isFinal(r.status));
}

/** "held", "deferred" (some recipient waits for a retry), or "queued" (not tried yet or due). */
export function queueStatus(state: DeliveryState | undefined): 'held' | 'deferred' | 'queued' {
  if (!state) return 'queued';
  if (state.held) return 'held';
  return state.recipients.some((r) => r.status === 'deferred') ? 'deferred' : 'queued';
}

export function serializeState(state: DeliveryState): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

export function parseState(text: string): DeliveryState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || !Array.isArray(value.recipients)) return undefined;
  if (typeof value.attempts !== 'number' || typeof value.nextAttemptAt !== 'string') return undefined;
  if (value.version === 1) return fromVersion1(value);
  if (value.version !== 2 || !Array.isArray(value.outbox)) return undefined;
  return value as unknown as DeliveryState;
}

interface Version1Recipient {
  address: string;
  status: RecipientStatus;
  reason?: string;
  remote?: string;
  at?: string;
}

/**
 * Spools written before outcomes were data: their reasons were reply lines ("550 5.1.1 …")
 * or ours ("4.4.1 …"), read once here; a stored bounce/warning flag covers every recipient.
 */
function fromVersion1(value: Record<string, unknown>): DeliveryState {
  const recipients = (value.recipients as Version1Recipient[]).map((r): RecipientState => {
    const remote = r.remote === undefined || r.remote === '' ? undefined : r.remote.replace(/:\d+$/, '');
    const outcome =
      r.reason === undefined
        ? undefined
        : /^[2-5]\d\d[ -]/.test(r.reason)
          ? replyOutcome(r.reason, remote)
          : localOutcome(
              /^([245]\.\d{1,3}\.\d{1,3})/.exec(r.reason)?.[1] ?? (r.status === 'failed' ? '5.0.0' : '4.0.0'),
              r.reason.replace(/^[245]\.\d{1,3}\.\d{1,3}\s*/, ''),
              remote,
            );
    return {
      address: r.address,
      status: r.status,
      ...(outcome ? { outcome } : {}),
      ...(r.at === undefined ? {} : { at: r.at }),
      ...(r.status === 'failed' && value.bounced === true ? { reported: true } : {}),
      ...(value.warned === true ? { warned: true } : {}),
    };
  });
  return {
    version: 2,
    attempts: value.attempts as number,
    nextAttemptAt: value.nextAttemptAt as string,
    held: value.held === true,
    recipients,
    outbox: [],
    commandSeq: 0,
  };
}
