/**
 * How a listener defends its connection slots, as pure functions of its limits. Postfix
 * shortens its timeouts under stress (smtpd_timeout = ${stress?10}${stress:300}), bounds
 * DATA by a minimum rate (smtpd_min_data_rate) and caps connections per client (anvil);
 * we add a reserve: strangers that have not authenticated may fill only part of the
 * listener, and when they have filled it, the one idle longest makes room for a newcomer.
 */
import type { Limits } from '../config/schema.js';

/** Clients outside trustedNetworks that have not authenticated may hold this many slots. */
export function unauthenticatedLimit(limits: Limits): number {
  return limits.maxUnauthenticatedConnections ?? Math.max(1, Math.floor((limits.maxConnections * 3) / 4));
}

/**
 * Under stress when either limit is near: stressThreshold of maxConnections in use, or of the
 * strangers' share (Postfix: all smtpd processes busy).
 */
export function isStressed(limits: Limits, openSessions: number, strangers: number): boolean {
  return (
    openSessions >= Math.ceil(limits.maxConnections * limits.stressThreshold) ||
    strangers >= Math.ceil(unauthenticatedLimit(limits) * limits.stressThreshold)
  );
}

export function idleTimeoutMs(limits: Limits, stressed: boolean): number {
  const seconds = stressed
    ? Math.min(limits.stressIdleTimeoutSeconds, limits.idleTimeoutSeconds)
    : limits.idleTimeoutSeconds;
  return seconds * 1000;
}

/**
 * How long DATA may have taken once `bytes` have arrived: the idle timeout plus the time the
 * bytes need at minDataRate (Postfix's deadline with smtpd_per_request_deadline). Infinity
 * when the rate check is off.
 */
export function dataDeadlineMs(limits: Limits, stressed: boolean, bytes: number): number {
  if (limits.minDataRate === 0) return Infinity;
  return idleTimeoutMs(limits, stressed) + (bytes / limits.minDataRate) * 1000;
}

export interface EvictionCandidate {
  readonly id: string;
  /** When the client last sent a command (or connected). */
  readonly idleSince: number;
  /** A MAIL FROM is open: the client is sending mail, not just holding a slot. */
  readonly inTransaction: boolean;
}

/** Which idle stranger gives up its slot: one without a transaction first, then the longest idle. */
export function pickEvictable(candidates: readonly EvictionCandidate[]): string | undefined {
  let best: EvictionCandidate | undefined;
  for (const candidate of candidates) {
    if (
      !best ||
      (best.inTransaction && !candidate.inTransaction) ||
      (best.inTransaction === candidate.inTransaction && candidate.idleSince < best.idleSince)
    ) {
      best = candidate;
    }
  }
  return best?.id;
}
