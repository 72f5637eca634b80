import type { DeliveryConfig } from '../config/schema.js';

/**
 * Seconds until the next attempt after `attempts` failed ones: the first retry after
 * firstRetrySeconds, doubling, capped at maxRetrySeconds, with ±10% jitter so a restart
 * does not retry everything at the same moment (as chasquid's nextDelay).
 */
export function nextDelaySeconds(
  attempts: number,
  retry: DeliveryConfig['retry'],
  random: () => number = Math.random,
): number {
  const base = Math.min(retry.firstRetrySeconds * 2 ** Math.max(0, attempts - 1), retry.maxRetrySeconds);
  const jitter = 1 + (random() * 0.2 - 0.1);
  return base * jitter;
}

/** True once a message has been queued longer than the give-up limit. */
export function expired(receivedAt: string, now: Date, retry: DeliveryConfig['retry']): boolean {
  return now.getTime() - Date.parse(receivedAt) >= retry.giveUpAfterSeconds * 1000;
}
