import { describe, expect, it } from 'vitest';
import { deliverySchema } from '../../../src/config/schema.js';
import { orderMx, routeFor, RouteError, type Resolver } from '../../../src/delivery/routes.js';

const mx = deliverySchema.parse({ route: { type: 'mx' } }).route;

function resolverWith(
  answer: () => Promise<{ exchange: string; priority: number }[]>,
): Pick<Resolver, 'resolveMx'> {
  return { resolveMx: answer };
}

function dnsError(code: string): Error {
  return Object.assign(new Error(code), { code });
}

describe('orderMx', () => {
  it('sorts by preference and shuffles equal preferences with the given random source', () => {
    const records = [
      { exchange: 'b', priority: 20 },
      { exchange: 'a1', priority: 10 },
      { exchange: 'a2', priority: 10 },
    ];
    const low = [0.9, 0.1, 0.5];
    expect(orderMx(records, () => low.shift() ?? 0)).toEqual(['a1', 'a2', 'b']);
    const high = [0.9, 0.5, 0.1];
    expect(orderMx(records, () => high.shift() ?? 0)).toEqual(['a2', 'a1', 'b']);
  });
});

describe('routeFor', () => {
  it.each([
    // MX records in preference order
    [
      [
        { exchange: 'mx2.example', priority: 20 },
        { exchange: 'mx1.example', priority: 10 },
      ],
      ['mx1.example', 'mx2.example'],
    ],
    // no MX records: the domain itself (RFC 5321 §5.1 implicit MX)
    [[], ['example.org']],
  ])('MX answer %j -> hops %j', async (records, hosts) => {
    const destination = await routeFor(
      'example.org',
      mx,
      resolverWith(() => Promise.resolve(records)),
    );
    expect(destination.key).toBe('mx:example.org');
    expect(destination.hops.map((h) => h.host)).toEqual(hosts);
    expect(destination.hops.every((h) => h.tls === 'opportunistic' && h.port === 25)).toBe(true);
  });

  it.each([
    ['ENOTFOUND', true], // the domain does not exist: permanent
    ['ETIMEOUT', false], // DNS trouble: try again later
    ['ESERVFAIL', false],
  ])('a %s lookup error is a route error, permanent=%s', async (code, permanent) => {
    const error = await routeFor(
      'x.example',
      mx,
      resolverWith(() => Promise.reject(dnsError(code))),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RouteError);
    expect((error as RouteError).permanent).toBe(permanent);
  });

  it('ENODATA (no MX) falls back to the domain', async () => {
    const destination = await routeFor(
      'example.org',
      mx,
      resolverWith(() => Promise.reject(dnsError('ENODATA'))),
    );
    expect(destination.hops.map((h) => h.host)).toEqual(['example.org']);
  });

  it('a null MX (RFC 7505) fails permanently', async () => {
    const error = await routeFor(
      'nomail.example',
      mx,
      resolverWith(() => Promise.resolve([{ exchange: '', priority: 0 }])),
    ).catch((e: unknown) => e);
    expect((error as RouteError).permanent).toBe(true);
    // RFC 7505 §4.2 registers X.1.10 for a null MX; 5.1.2 would say the domain does not exist.
    expect((error as RouteError).status).toBe('5.1.10');
    expect((error as RouteError).message).toMatch(/null MX/);
  });

  it('requireTlsDomains makes STARTTLS mandatory for those domains only', async () => {
    const route = deliverySchema.parse({ route: { type: 'mx', requireTlsDomains: ['Bank.Example'] } }).route;
    const answer = resolverWith(() => Promise.resolve([{ exchange: 'mx.bank.example', priority: 10 }]));
    expect((await routeFor('bank.example', route, answer)).hops[0]?.tls).toBe('starttls');
    expect((await routeFor('other.example', route, answer)).hops[0]?.tls).toBe('opportunistic');
  });

  it('a smarthost route ignores the domain and never asks DNS', async () => {
    const route = deliverySchema.parse({
      route: { type: 'smarthost', host: 'smtp.example', auth: { user: 'u', pass: 'p' } },
    }).route;
    const destination = await routeFor(
      'anything.example',
      route,
      resolverWith(() => Promise.reject(new Error('no DNS'))),
    );
    expect(destination).toEqual({
      key: 'smarthost:smtp.example:587',
      hops: [
        {
          host: 'smtp.example',
          port: 587,
          tls: 'starttls',
          verifyCertificate: true,
          auth: { user: 'u', pass: 'p' },
        },
      ],
    });
  });
});
