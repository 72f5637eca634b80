/**
 * How much TLS one MX hop must give, from three sources (the strictest wins): the route's own
 * setting, the domain's MTA-STS verdict for that host (RFC 8461 §5), and what the domain's MX
 * has shown before (chasquid's per-domain security level: once seen, never less, so an
 * attacker who strips STARTTLS or swaps the certificate gets a deferral, not the mail).
 */
import type { MxVerdict } from '../mta-sts/policy.js';
import type { Hop } from './routes.js';

/** Ordered: each is more than the one before it. */
export const TLS_LEVELS = ['plain', 'tls', 'tls-verified'] as const;
export type TlsLevel = (typeof TLS_LEVELS)[number];

export function tlsRank(level: TlsLevel): number {
  return TLS_LEVELS.indexOf(level);
}

export type HopTls = Pick<Hop, 'tls' | 'verifyCertificate'> & { readonly tlsRequiredBy?: string };

/** The TLS a hop gets; `verdict` must be one that delivers (a refused host has no hop). */
export function hopTls(
  routeTls: Hop['tls'],
  verdict: MxVerdict & { deliver: true },
  remembered: TlsLevel | undefined,
): HopTls {
  if (verdict.requireVerifiedTls)
    return { tls: 'starttls', verifyCertificate: true, tlsRequiredBy: 'MTA-STS policy (enforce)' };
  if (remembered === 'tls-verified')
    return {
      tls: 'starttls',
      verifyCertificate: true,
      tlsRequiredBy: 'this domain was seen with a verified certificate before',
    };
  if (remembered === 'tls' && routeTls !== 'implicit')
    return {
      tls: 'starttls',
      verifyCertificate: false,
      tlsRequiredBy: 'this domain was seen with TLS before',
    };
  return routeTls === 'starttls'
    ? { tls: routeTls, verifyCertificate: false, tlsRequiredBy: 'the route requires TLS' }
    : { tls: routeTls, verifyCertificate: false };
}
