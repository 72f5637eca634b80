import { isIP } from 'node:net';
import type { DeliveryConfig } from '../config/schema.js';
import { createLookups, type Lookups } from '../dns/resolver.js';

/** One host to try, with how to speak TLS to it. */
export interface Hop {
  /** The name: for the log, the DSN's Remote-MTA, and TLS (SNI and the certificate's name). */
  readonly host: string;
  /** The address to connect to, resolved by our resolver; absent: `host` is connected to as is. */
  readonly address?: string;
  readonly port: number;
  /** none: plain; opportunistic: STARTTLS if offered; starttls: STARTTLS required; implicit: TLS from the start. */
  readonly tls: 'none' | 'opportunistic' | 'starttls' | 'implicit';
  readonly verifyCertificate: boolean;
  /** Extra CA (PEM file) to trust for this hop. */
  readonly caFile?: string;
  readonly auth?: { readonly user: string; readonly pass: string };
  /** Why TLS (or a verified certificate) is required here, when a policy or memory requires it. */
  readonly tlsRequiredBy?: string;
  /**
   * A policy that asks for a verified certificate only to report its absence (MTA-STS testing,
   * RFC 8461 §5): the hop is delivered to either way, and a failure is logged with its reason.
   */
  readonly tlsReportedBy?: string;
}

/** Where a group of recipients goes: a key for connection reuse and limits, and the hops in order. */
export interface Destination {
  readonly key: string;
  readonly hops: readonly Hop[];
}

/** DNS as delivery needs it (MX, A/AAAA, TXT); injected so tests control it. */
export type Resolver = Lookups;

export const systemResolver: Resolver = createLookups([]);

/**
 * A routing problem with its RFC 3463 status: temporary (4.4.3, DNS timeout) or permanent
 * (5.1.2 no such domain; 5.1.10 null MX, RFC 7505 §4.2).
 */
export class RouteError extends Error {
  constructor(
    message: string,
    readonly status: string,
  ) {
    super(message);
    this.name = 'RouteError';
  }

  get permanent(): boolean {
    return this.status.startsWith('5.');
  }
}

/** RFC 5321 §5.1: MX by preference, equal preferences shuffled; no MX: the domain itself (A/AAAA). */
export function orderMx(
  records: readonly { exchange: string; priority: number }[],
  random: () => number = Math.random,
): string[] {
  const shuffled = records.map((record) => ({ record, tiebreak: random() }));
  shuffled.sort((a, b) => a.record.priority - b.record.priority || a.tiebreak - b.tiebreak);
  return shuffled.map(({ record }) => record.exchange);
}

function dnsCode(error: unknown): string | undefined {
  return error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
}

export async function routeFor(
  domain: string,
  route: DeliveryConfig['route'],
  resolver: Pick<Resolver, 'resolveMx'>,
  random: () => number = Math.random,
): Promise<Destination> {
  if (route.type === 'smarthost') {
    const hop: Hop = {
      host: route.host,
      port: route.port,
      tls: route.tls,
      verifyCertificate: route.verifyCertificate,
      ...(route.caFile === undefined ? {} : { caFile: route.caFile }),
      ...(route.auth ? { auth: route.auth } : {}),
    };
    return { key: `smarthost:${route.host}:${String(route.port)}`, hops: [hop] };
  }
  const tls =
    route.tls === 'required' || route.requireTlsDomains.includes(domain) ? 'starttls' : 'opportunistic';
  const bracketed = /^\[(.+)\]$/.exec(domain)?.[1];
  if (bracketed !== undefined && isIP(bracketed) !== 0) {
    return {
      key: `mx:${domain}`,
      hops: [{ host: bracketed, port: route.port, tls, verifyCertificate: false }],
    };
  }
  let records: { exchange: string; priority: number }[];
  try {
    records = await resolver.resolveMx(domain);
  } catch (error) {
    const code = dnsCode(error);
    if (code === 'ENOTFOUND') throw new RouteError(`domain ${domain} does not exist`, '5.1.2');
    if (code === 'ENODATA') records = [];
    else throw new RouteError(`MX lookup for ${domain} failed (${code ?? String(error)})`, '4.4.3');
  }
  // RFC 7505 null MX: the domain accepts no mail.
  if (records.length === 1 && records[0]?.exchange === '') {
    throw new RouteError(`domain ${domain} accepts no mail (null MX)`, '5.1.10');
  }
  const hosts = records.length > 0 ? orderMx(records, random) : [domain];
  // Between MTAs certificates are rarely verifiable (RFC 7435, opportunistic security).
  return {
    key: `mx:${domain}`,
    hops: hosts.map((host) => ({ host, port: route.port, tls, verifyCertificate: false })),
  };
}
