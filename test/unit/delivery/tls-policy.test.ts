import { describe, expect, it } from 'vitest';
import { hopTls, type TlsLevel } from '../../../src/delivery/tls-policy.js';
import type { Hop } from '../../../src/delivery/routes.js';

const deliver = { deliver: true as const, requireVerifiedTls: false };
const enforce = { deliver: true as const, requireVerifiedTls: true };

describe('hopTls: the strictest of route, MTA-STS and memory', () => {
  it.each<
    [string, Hop['tls'], typeof deliver, TlsLevel | undefined, Hop['tls'], boolean, string | undefined]
  >([
    // why: nothing asks for more than the route: opportunistic, no certificate check (RFC 7435)
    ['nothing known', 'opportunistic', deliver, undefined, 'opportunistic', false, undefined],
    ['seen in plaintext only', 'opportunistic', deliver, 'plain', 'opportunistic', false, undefined],
    // why: the route itself requires TLS
    ['route requires TLS', 'starttls', deliver, undefined, 'starttls', false, 'the route requires TLS'],
    // why: once seen with TLS, never plaintext (a stripped STARTTLS is deferred)
    [
      'seen with TLS',
      'opportunistic',
      deliver,
      'tls',
      'starttls',
      false,
      'this domain was seen with TLS before',
    ],
    // why: once seen with a verified certificate, never an unverified one
    [
      'seen verified',
      'opportunistic',
      deliver,
      'tls-verified',
      'starttls',
      true,
      'this domain was seen with a verified certificate before',
    ],
    // why: MTA-STS enforce wins over everything and says so
    ['enforce', 'opportunistic', enforce, undefined, 'starttls', true, 'MTA-STS policy (enforce)'],
    ['enforce, seen with TLS', 'opportunistic', enforce, 'tls', 'starttls', true, 'MTA-STS policy (enforce)'],
  ])('%s', (_, route, verdict, remembered, tls, verifyCertificate, why) => {
    const got = hopTls(route, verdict, remembered);
    expect(got).toEqual({ tls, verifyCertificate, ...(why === undefined ? {} : { tlsRequiredBy: why }) });
  });
});
