/**
 * The mutable half of a queued message: per-recipient delivery results and the schedule,
 * kept in queue/ID.state.json beside the immutable envelope. Absent means "nothing tried yet".
 */
import { isRecord } from '../util/is-record.js';
import type { Envelope } from '../spool/envelope.js';

export type RecipientStatus = 'pending' | 'deferred' | 'delivered' | 'failed' | 'captured';

export interface RecipientState {
  readonly address: string;
  readonly status: RecipientStatus;
  /** The remote reply or our reason, for queue list and the DSN. */
  readonly reason?: string;
  /** Remote host that gave the reason, for the DSN's Remote-MTA. */
  readonly remote?: string;
  readonly at?: string;
}

export interface DeliveryState {
  readonly version: 1;
  readonly attempts: number;
  readonly nextAttemptAt: string;
  readonly lastError?: string;
  /** Held by the operator: never attempted until released. */
  readonly held: boolean;
  readonly recipients: readonly RecipientState[];
  /** The failure DSN was queued (so a restart does not send it twice). */
  readonly bounced: boolean;
  /** The delay warning was queued. */
  readonly warned: boolean;
}

export function initialState(
  envelope: Envelope,
  captureDomains: ReadonlySet<string>,
  domainOf: (a: string) => string,
): DeliveryState {
  return {
    version: 1,
    attempts: 0,
    nextAttemptAt: envelope.receivedAt,
    held: false,
    bounced: false,
    warned: false,
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

export function parseState(text: string): DeliveryState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || value.version !== 1 || !Array.isArray(value.recipients)) return undefined;
  if (typeof value.attempts !== 'number' || typeof value.nextAttemptAt !== 'string') return undefined;
  return value as unknown as DeliveryState;
}
