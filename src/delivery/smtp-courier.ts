/**
 * The Courier that speaks SMTP: groups recipients by destination (one group for a
 * smarthost, one per domain for MX), finds the hops, borrows a pooled connection and sends.
 */
import type { Logger } from 'pino';
import type { Config, DeliveryConfig } from '../config/schema.js';
import { addressDomain } from '../pipeline/stages.js';
import type { Recipient } from '../spool/envelope.js';
import { NOT_ATTEMPTED, type Courier, type OutboundMessage } from './courier.js';
import { connectFailureOutcome } from './connect-failure.js';
import {
  ConnectionRateError,
  DestinationRate,
  holdText,
  type ConnectionLimits,
  type RateKind,
} from './destination-rate.js';
import { DestinationPlanner } from './mx-plan.js';
import { localOutcome, type Outcome, type RecipientResult } from './outcome.js';
import { ConnectionPool, PoolStoppingError } from './pool.js';
import { routeForDomain } from './route-table.js';
import { RouteError, type Destination, type Resolver } from './routes.js';

type Route = DeliveryConfig['route'];

/** RFC 6531: SMTPUTF8 is needed for a UTF-8 local part or header; a UTF-8 domain has an ASCII form. */
export function needsSmtpUtf8(from: string, to: readonly string[], header: string): boolean {
  const localPart = (address: string): string => address.slice(0, Math.max(0, address.lastIndexOf('@')));
  return [from, ...to].some((a) => /[^\p{ASCII}]/u.test(localPart(a))) || /[^\p{ASCII}]/u.test(header);
}

/** A recipient held back by one of our own per-minute limits: not attempted, due when the window frees. */
function postponed(
  address: string,
  domain: string,
  waitMs: number,
  kind: RateKind,
  perMinute: number | undefined,
): RecipientResult {
  const outcome = localOutcome('4.7.0', holdText(kind, domain, perMinute, waitMs));
  return { address, outcome, postponedMs: waitMs };
}

export class SmtpCourier implements Courier {
  private readonly pool: ConnectionPool;
  private readonly planner: DestinationPlanner;
  private readonly rate: DestinationRate;
  private stopped = false;

  constructor(
    private readonly config: Config,
    resolver: Resolver,
    random: () => number,
    log?: Logger,
  ) {
    this.planner = new DestinationPlanner({ config, lookups: resolver, random, log });
    this.rate = new DestinationRate(config.delivery.rateLimits);
    this.pool = new ConnectionPool(config.delivery.concurrency, {
      name: config.hostname,
      connectTimeoutMs: config.delivery.connectTimeoutSeconds * 1000,
    });
  }

  async deliver(message: OutboundMessage, recipients: readonly Recipient[]): Promise<RecipientResult[]> {
    const { envelope } = message;
    const release = this.config.release;
    // A release goes to the release route; everything else by delivery.routes, then the default.
    const routeOf = (domain: string): { route: Route; entry: number } =>
      envelope.route === 'release' && release
        ? { route: release.route, entry: -2 }
        : routeForDomain(domain, this.config.delivery.routes, this.config.delivery.route);
    const results: RecipientResult[] = [];
    // A domain over its delivery rate waits (one unit per message and domain, taken here).
    const waits = this.rate.takeFor(recipients.map((r) => addressDomain(r.address)));
    // One group per smarthost route, one per domain for MX: each group is one transaction.
    const groups = new Map<
      string,
      { domain: string; route: Route; limits: ConnectionLimits | undefined; recipients: Recipient[] }
    >();
    for (const r of recipients) {
      const domain = addressDomain(r.address);
      const waitMs = waits.get(domain);
      if (waitMs !== undefined) {
        results.push(postponed(r.address, domain, waitMs, 'message', this.rate.perMinute(domain, 'message')));
        continue;
      }
      const { route, entry } = routeOf(domain);
      // A domain with connection limits gets connections of its own, even through a shared smarthost
      // (so a group's limits are its first domain's: any other domain in it has none).
      const limits = this.rate.connectionLimits(domain);
      const own = route.type === 'smarthost' && limits ? ` ${domain}` : '';
      const key = route.type === 'smarthost' ? `route ${String(entry)}${own}` : `mx ${domain}`;
      const group = groups.get(key) ?? { domain, route, limits, recipients: [] };
      group.recipients.push(r);
      groups.set(key, group);
    }
    const smtputf8 =
      envelope.smtputf8 &&
      needsSmtpUtf8(
        envelope.mailFrom,
        recipients.map((r) => r.address),
        await message.header(),
      );
    const all = (group: readonly Recipient[], outcome: Outcome): void => {
      results.push(...group.map((r) => ({ address: r.address, outcome })));
    };
    // A group that does not go returns the message rate it took for each of its domains.
    const notSent = (group: readonly Recipient[]): void => {
      for (const domain of new Set(group.map((r) => addressDomain(r.address)))) this.rate.giveBack(domain);
    };
    for (const { domain, route, limits: connectionLimits, recipients: group } of groups.values()) {
      if (this.stopped) {
        // Stopping: finish the transaction under way, start no other.
        notSent(group);
        all(group, NOT_ATTEMPTED);
        continue;
      }
      const planning = performance.now();
      let destination: Destination;
      try {
        destination = await this.planner.plan(domain, route);
      } catch (error) {
        // No host was tried: the destination's message rate is given back, as when held.
        notSent(group);
        const text = error instanceof Error ? error.message : String(error);
        all(
          group,
          error instanceof RouteError ? localOutcome(error.status, text) : localOutcome('4.4.3', text),
        );
        continue;
      }
      if (connectionLimits && route.type === 'smarthost')
        destination = { ...destination, key: `${destination.key} for ${domain}` };
      const acquiring = performance.now();
      const planMs = acquiring - planning;
      let connection;
      try {
        connection = await this.pool.acquire(destination, connectionLimits);
      } catch (error) {
        if (error instanceof PoolStoppingError) {
          notSent(group);
          all(group, NOT_ATTEMPTED);
          continue;
        }
        if (error instanceof ConnectionRateError) {
          notSent(group);
          const perMinute = this.rate.perMinute(domain, 'connection');
          results.push(
            ...group.map((r) => postponed(r.address, domain, error.waitMs, 'connection', perMinute)),
          );
          continue;
        }
        all(group, connectFailureOutcome(error, destination));
        continue;
      }
      try {
        const setupMs = connection.takeSetupMs();
        const waitMs = Math.max(0, performance.now() - acquiring - setupMs);
        await this.planner.observe(
          domain,
          route,
          connection.hop,
          connection.security,
          connection.certificateError,
        );
        const sending = performance.now();
        const sent = await connection.send(
          {
            from: envelope.mailFrom,
            to: group,
            size: envelope.size,
            smtputf8,
            eightBit: message.eightBit,
            ...(envelope.dsn ? { dsn: envelope.dsn } : {}),
          },
          message,
        );
        const timing = { waitMs, connectMs: planMs + setupMs, sendMs: performance.now() - sending };
        results.push(...sent.map((result) => ({ ...result, timing })));
      } finally {
        this.pool.release(destination, connection);
      }
    }
    return results;
  }

  stopping(): void {
    this.stopped = true;
    this.pool.stopping();
  }

  abort(): void {
    this.pool.abortAll();
  }

  close(): void {
    this.pool.closeAll();
  }
}
