import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';

const minimal = {
  policies: { relay: { auth: 'none' } },
  listeners: [{ name: 'smtp', role: 'relay', port: 2525, tls: 'none', policy: 'relay' }],
} as const;
const withDelivery = (delivery: unknown) => () => validateConfig({ ...minimal, delivery }, 'x.yaml');

describe('delivery.dns.servers', () => {
  it.each(['192.0.2.53', '127.0.0.1:5353', '[::1]:5353', '::1', '2001:db8::53'])('accepts %s', (server) => {
    expect(withDelivery({ dns: { servers: [server] } })().delivery.dns.servers).toEqual([server]);
  });

  it.each(['dns.example.com', '127.0.0.1:0', '127.0.0.1:70000', '1.2.3'])(
    'refuses %s, naming the field',
    (server) => {
      expect(withDelivery({ dns: { servers: [server] } })).toThrow(
        'x.yaml: delivery.dns.servers[0]: must be an IP address with an optional port',
      );
    },
  );

  it('defaults to the system resolver with a 5 s timeout', () => {
    expect(withDelivery({})().delivery.dns).toEqual({ servers: [], timeoutSeconds: 5 });
  });
});

describe('delivery.dkim', () => {
  const key = { domain: 'Example.COM', selector: 'mail2026', keyFile: '/etc/mailwharf/dkim.pem' };

  it('takes a key per domain, rsa-sha256 by default, domains lower-cased', () => {
    expect(withDelivery({ dkim: [key] })().delivery.dkim).toEqual([
      { ...key, domain: 'example.com', algorithm: 'rsa-sha256' },
    ]);
  });

  it.each([
    [{ ...key, algorithm: 'rsa-sha1' }, 'delivery.dkim[0].algorithm'],
    [{ ...key, selector: 'bad selector' }, 'delivery.dkim[0].selector: must be a DNS label'],
    [{ ...key, headers: [] }, 'delivery.dkim[0].headers'],
    [{ ...key, keyfile: 'typo' }, 'delivery.dkim[0]'],
  ])('refuses %j, naming %s', (entry, field) => {
    expect(withDelivery({ dkim: [entry] })).toThrow(`x.yaml: ${field}`);
  });

  it('refuses two keys for one domain', () => {
    expect(withDelivery({ dkim: [key, { ...key, domain: 'example.com', selector: 'other' }] })).toThrow(
      'x.yaml: delivery.dkim: one key per domain',
    );
  });
});

describe('delivery.routes', () => {
  const smarthost = { type: 'smarthost', host: 'relay.example.net' };

  it('takes domains and wildcard subdomains with a route each', () => {
    const routes = withDelivery({ routes: [{ domains: ['One.Test', '*.two.test'], route: smarthost }] })()
      .delivery.routes;
    expect(routes).toMatchObject([
      { domains: ['one.test', '*.two.test'], route: { type: 'smarthost', port: 587 } },
    ]);
  });

  it.each([
    [{ domains: ['exa mple.com'], route: smarthost }, 'delivery.routes[0].domains[0]: must be a domain'],
    [{ domains: ['a.*.test'], route: smarthost }, 'delivery.routes[0].domains[0]: must be a domain'],
    [{ domains: [], route: smarthost }, 'delivery.routes[0].domains'],
    [{ domains: ['a.test'], route: { type: 'lmtp' } }, 'delivery.routes[0].route.type'],
  ])('refuses %j, naming %s', (entry, field) => {
    expect(withDelivery({ routes: [entry] })).toThrow(`x.yaml: ${field}`);
  });
});

describe('delivery.rateLimits', () => {
  it('takes any of messagesPerMinute, connectionsPerMinute and maxConnections', () => {
    const limits = [{ domains: ['one.test'], connectionsPerMinute: 5, maxConnections: 2 }];
    expect(withDelivery({ rateLimits: limits })().delivery.rateLimits).toEqual(limits);
  });

  it.each([
    [
      { domains: ['one.test'] },
      'delivery.rateLimits[0]: give messagesPerMinute, connectionsPerMinute or maxConnections',
    ],
    [{ domains: ['one.test'], maxConnections: 0 }, 'delivery.rateLimits[0].maxConnections'],
    [{ domains: ['one.test'], connectionsPerMinute: 1.5 }, 'delivery.rateLimits[0].connectionsPerMinute'],
  ])('refuses %j, naming %s', (entry, field) => {
    expect(withDelivery({ rateLimits: [entry] })).toThrow(`x.yaml: ${field}`);
  });
});
