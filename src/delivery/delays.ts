import type { TransactionTiming } from './outcome.js';

/**
 * Postfix's delays=a/b/c/d, in seconds: a, before the queue manager (from receipt to this
 * attempt's start, earlier attempts and retry waits included); b, in the queue manager (reading
 * and signing the message, then waiting for a connection); c, connection setup (DNS, connect,
 * greeting, EHLO, TLS; 0 on a reused connection); d, the transaction. Without a transaction
 * (held back by a limit of ours, or no connection), c and d are 0.
 */
export function postfixDelays(
  receivedAt: number,
  started: number,
  handedOver: number,
  timing: TransactionTiming | undefined,
): string {
  const seconds = (ms: number): string => String(Math.round(Math.max(0, ms) / 10) / 100);
  return [
    started - receivedAt,
    handedOver - started + (timing?.waitMs ?? 0),
    timing?.connectMs ?? 0,
    timing?.sendMs ?? 0,
  ]
    .map(seconds)
    .join('/');
}
