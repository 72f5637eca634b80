/**
 * delivery.rateLimits: at most N messages a minute to one destination domain, the limit
 * from the first entry whose domains match (as delivery.routes; "*.example.com" counts each
 * subdomain on its own). A message over the limit is not attempted: it waits for the window,
 * and the wait is not a failed attempt (no retry backoff, no attempt counted).
 */
import type { DeliveryConfig } from '../config/schema.js';
import { SlidingWindow } from '../util/rate-window.js';
import { domainMatches } from './route-table.js';

const MINUTE_MS = 60_000;

export class DestinationRate {
  /** One window per configured entry (each has its own limit), keyed by domain. */
  private readonly windows: { readonly domains: readonly string[]; readonly window: SlidingWindow }[];

  constructor(limits: DeliveryConfig['rateLimits'], now: () => number = Date.now) {
    this.windows = limits.map((entry) => ({
      domains: entry.domains,
      window: new SlidingWindow(entry.messagesPerMinute, MINUTE_MS, now),
    }));
  }

  /** Takes one message for each distinct domain; returns the domains that must wait, and how long (ms). */
  takeFor(domains: readonly string[]): Map<string, number> {
    const waits = new Map<string, number>();
    for (const domain of new Set(domains)) {
      const waitMs = this.take(domain);
      if (waitMs !== undefined) waits.set(domain, waitMs);
    }
    return waits;
  }

  /** Takes one message for `domain`; undefined when it may go now, else how long to wait (ms). */
  take(domain: string): number | undefined {
    const name = domain.toLowerCase();
    const entry = this.windows.find((e) => e.domains.some((pattern) => domainMatches(pattern, name)));
    if (!entry) return undefined;
    const taken = entry.window.take(name);
    return taken.ok ? undefined : Math.max(1, taken.retryAfterMs);
  }
}
