/**
 * Slows down password guessing, per client address and per account: after n failures the
 * next attempt waits min(maxDelayMs, baseDelayMs * 2^(n-1)) before its password is even
 * checked, so a guesser neither gets far nor fills the scrypt queue that a real login then
 * waits in. Attempts from one address are spaced out one after another, so parallel
 * connections gain nothing. A success resets its address and its account.
 *
 * The per-account delay applies only to addresses that have failed themselves: guessing at
 * alice from elsewhere must not lock alice out (Dovecot's auth_penalty is per address only;
 * Postfix leaves it to anvil's smtpd_client_auth_rate_limit).
 */
import type { AuthThrottleSettings } from '../config/schema.js';

interface Record {
  failures: number;
  /** The next attempt may start no earlier than this (ms). */
  nextAt: number;
  lastFailureAt: number;
}

export type ThrottleDecision =
  { readonly kind: 'check'; readonly waitMs: number } | { readonly kind: 'refuse'; readonly waitMs: number };

/** Records kept at most; the oldest go first (a flood of addresses cannot grow memory). */
const MAX_RECORDS = 10_000;

export class AuthThrottle {
  private readonly records = new Map<string, Record>();

  constructor(
    private readonly settings: AuthThrottleSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * What to do with this attempt: check it after `waitMs`, or, when its turn is further away
   * than maxDelayMs, refuse it unchecked after maxDelayMs (454: a guesser that keeps more
   * attempts going than its turns allow waits for each refusal too, and never spins).
   */
  reserve(source: string, account: string): ThrottleDecision {
    if (this.settings.baseDelayMs === 0) return { kind: 'check', waitMs: 0 };
    const now = this.now();
    const bySource = this.live(`ip:${source}`, now);
    let start = Math.max(now, bySource?.nextAt ?? now);
    const byAccount = bySource && bySource.failures > 0 ? this.live(`user:${account}`, now) : undefined;
    if (byAccount) start = Math.max(start, byAccount.nextAt);
    const wait = start - now;
    if (wait > this.settings.maxDelayMs) return { kind: 'refuse', waitMs: this.settings.maxDelayMs };
    // The one after this waits its turn behind it.
    if (bySource && bySource.failures > 0) bySource.nextAt = start + this.delay(bySource.failures);
    if (byAccount && byAccount.failures > 0) byAccount.nextAt = start + this.delay(byAccount.failures);
    return { kind: 'check', waitMs: wait };
  }

  failed(source: string, account: string): void {
    if (this.settings.baseDelayMs === 0) return;
    const now = this.now();
    for (const key of [`ip:${source}`, `user:${account}`]) {
      const record = this.live(key, now) ?? { failures: 0, nextAt: now, lastFailureAt: now };
      record.failures++;
      record.lastFailureAt = now;
      record.nextAt = Math.max(record.nextAt, now + this.delay(record.failures));
      this.records.delete(key);
      this.records.set(key, record);
    }
    while (this.records.size > MAX_RECORDS) {
      const oldest = this.records.keys().next().value;
      if (oldest === undefined) break;
      this.records.delete(oldest);
    }
  }

  succeeded(source: string, account: string): void {
    this.records.delete(`ip:${source}`);
    this.records.delete(`user:${account}`);
  }

  /** The delay after `failures` failures. */
  delay(failures: number): number {
    if (failures <= 0) return 0;
    return Math.min(this.settings.maxDelayMs, this.settings.baseDelayMs * 2 ** (failures - 1));
  }

  private live(key: string, now: number): Record | undefined {
    const record = this.records.get(key);
    if (record && now - record.lastFailureAt > this.settings.forgetAfterSeconds * 1000) {
      this.records.delete(key);
      return undefined;
    }
    return record;
  }
}
