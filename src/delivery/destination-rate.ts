/**
 * delivery.rateLimits: per destination domain, at most N messages a minute, at most N new
 * connections a minute, and at most N connections open at once; the limits from the first
 * entry whose domains match (as delivery.routes; "*.example.com" counts each subdomain on its
 * own). A message over a per-minute limit is not attempted: it waits for the window, and the
 * wait is not a failed attempt (no retry backoff, no attempt counted). A reused connection is
 * not a new one: only opening one takes from connectionsPerMinute. A message taken from
 * messagesPerMinute that then does not go (held by the connection rate, its route not found,
 * or the courier stopping) gives its unit back: only messages that reach for a host count (a
 * failed connection does).
 */
import type { DeliveryConfig } from '../config/schema.js';
import { SlidingWindow } from '../util/rate-window.js';
import { domainMatches } from './route-table.js';

const MINUTE_MS = 60_000;

interface Entry {
  readonly domains: readonly string[];
  readonly messages: SlidingWindow | undefined;
  readonly connections: SlidingWindow | undefined;
  readonly maxConnections: number | undefined;
}

/** The two per-minute limits a delivery can be held back by. */
export type RateKind = 'message' | 'connection';

/** What each limit counts, singular and plural. */
const UNITS: Readonly<Record<RateKind, readonly [string, string]>> = {
  message: ['message', 'messages'],
  connection: ['new connection', 'new connections'],
};

/**
 * The 4.7.0 text of a held delivery, as `queue list` shows it: which limit, its value and
 * unit (so an operator sees which config key to raise), and when the next try is.
 */
export function holdText(
  kind: RateKind,
  domain: string,
  perMinute: number | undefined,
  waitMs: number,
): string {
  const seconds = String(Math.ceil(waitMs / 1000));
  // Always known when a limit held the delivery; the type allows a domain that lost its entry.
  const unit = UNITS[kind][perMinute === 1 ? 0 : 1];
  const limit = perMinute === undefined ? '' : ` (${String(perMinute)} ${unit} per minute)`;
  return `${kind} rate limit for ${domain} reached${limit}; next try in ${seconds} s`;
}

/** The connection limits of one domain, for the connection pool. */
export interface ConnectionLimits {
  /** Connections open at once to the domain. */
  readonly maxConnections?: number;
  /** Takes one new connection; undefined when it may open now, else how long to wait (ms). */
  readonly takeConnection?: () => number | undefined;
}

export class DestinationRate {
  /** One window per configured entry and kind (each has its own limit), keyed by domain. */
  private readonly entries: readonly Entry[];

  constructor(limits: DeliveryConfig['rateLimits'], now: () => number = Date.now) {
    const window = (perMinute: number | undefined): SlidingWindow | undefined =>
      perMinute === undefined ? undefined : new SlidingWindow(perMinute, MINUTE_MS, now);
    this.entries = limits.map((entry) => ({
      domains: entry.domains,
      messages: window(entry.messagesPerMinute),
      connections: window(entry.connectionsPerMinute),
      maxConnections: entry.maxConnections,
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
    return waitOf(this.entryFor(name)?.messages, name);
  }

  /** Returns the message `take` took for `domain`: the message was not attempted after all. */
  giveBack(domain: string): void {
    const name = domain.toLowerCase();
    this.entryFor(name)?.messages?.giveBack(name);
  }

  /** The domain's connection limits; undefined when its entry (if any) sets none. */
  connectionLimits(domain: string): ConnectionLimits | undefined {
    const name = domain.toLowerCase();
    const entry = this.entryFor(name);
    if (entry?.connections === undefined && entry?.maxConnections === undefined) return undefined;
    const { connections, maxConnections } = entry;
    return {
      ...(maxConnections === undefined ? {} : { maxConnections }),
      ...(connections === undefined ? {} : { takeConnection: () => waitOf(connections, name) }),
    };
  }

  /** The per-minute limit of `kind` that applies to `domain`; undefined when none does. */
  perMinute(domain: string, kind: RateKind): number | undefined {
    const entry = this.entryFor(domain.toLowerCase());
    return (kind === 'message' ? entry?.messages : entry?.connections)?.limit;
  }

  private entryFor(name: string): Entry | undefined {
    return this.entries.find((e) => e.domains.some((pattern) => domainMatches(pattern, name)));
  }
}

function waitOf(window: SlidingWindow | undefined, name: string): number | undefined {
  if (!window) return undefined;
  const taken = window.take(name);
  return taken.ok ? undefined : Math.max(1, taken.retryAfterMs);
}

/** Thrown by the pool when opening a connection would exceed connectionsPerMinute. */
export class ConnectionRateError extends Error {
  constructor(readonly waitMs: number) {
    super(`connection rate limit reached; next connection in ${String(Math.ceil(waitMs / 1000))} s`);
  }
}
