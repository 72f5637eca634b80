/**
 * Rate limits per key (a client address, an AUTH user, a destination domain): at most `limit`
 * units in any `windowMs`, counted exactly over a sliding window (a log of the times units
 * were taken, one entry per unit, so the log never holds more than `limit` entries a key).
 * A refused take takes nothing, and says when the oldest unit leaves the window.
 */

export type Take = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

export class SlidingWindow {
  private readonly logs = new Map<string, number[]>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes `units` for `key` if they fit in the window; all or nothing. */
  take(key: string, units = 1): Take {
    const now = this.now();
    const log = this.current(key, now);
    if (log.length + units > this.limit) {
      // The wait until enough old units have left; more than the limit never fits.
      const oldest = log[Math.max(0, log.length + units - this.limit - 1)];
      return {
        ok: false,
        retryAfterMs:
          units > this.limit || oldest === undefined ? this.windowMs : oldest + this.windowMs - now,
      };
    }
    for (let i = 0; i < units; i++) log.push(now);
    this.logs.set(key, log);
    this.sweep(now);
    return { ok: true };
  }

  /** Returns the `units` taken last for `key` (what they were taken for did not happen). */
  giveBack(key: string, units = 1): void {
    const log = this.current(key, this.now());
    log.splice(Math.max(0, log.length - units), units);
    if (log.length === 0) this.logs.delete(key);
    else this.logs.set(key, log);
  }

  /** Units taken for `key` within the window now. */
  used(key: string): number {
    return this.current(key, this.now()).length;
  }

  private current(key: string, now: number): number[] {
    const log = this.logs.get(key) ?? [];
    const from = log.findIndex((at) => at > now - this.windowMs);
    return from < 0 ? [] : from === 0 ? log : log.slice(from);
  }

  /** Forgets keys whose units have all left the window, so memory follows the active keys only. */
  private sweep(now: number): void {
    if (this.logs.size < 1024) return;
    for (const [key, log] of this.logs) if ((log.at(-1) ?? 0) <= now - this.windowMs) this.logs.delete(key);
  }
}
