/**
 * Every DNS lookup delivery makes (MX, A/AAAA for the address we connect to, TXT for MTA-STS)
 * through one resolver the config can point at (`delivery.dns.servers`): split-horizon DNS, a
 * local validating resolver, or a test's loopback server. Empty: the system's servers.
 */
import { Resolver as DnsResolver } from 'node:dns/promises';
import type { DNSResolver } from 'mailauth';

export interface Lookups {
  resolveMx(domain: string): Promise<{ exchange: string; priority: number }[]>;
  resolveTxt(name: string): Promise<string[][]>;
  /** IPv4 then IPv6 addresses of a host; rejects like resolve4 when it has neither. */
  resolveAddresses(host: string): Promise<string[]>;
}

const NO_DATA = new Set(['ENODATA', 'ENOTFOUND']);
const code = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code;

/** `servers` as "192.0.2.53", "127.0.0.1:5353" or "[::1]:5353". */
export function createLookups(servers: readonly string[], timeoutMs = 5000): Lookups {
  // tries: 2, so one lost UDP packet does not defer a delivery.
  const resolver = new DnsResolver({ timeout: timeoutMs, tries: 2 });
  if (servers.length > 0) resolver.setServers([...servers]);
  return {
    resolveMx: (domain) => resolver.resolveMx(domain),
    resolveTxt: (name) => resolver.resolveTxt(name),
    async resolveAddresses(host) {
      const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
      const addresses = [
        ...(v4.status === 'fulfilled' ? v4.value : []),
        ...(v6.status === 'fulfilled' ? v6.value : []),
      ];
      if (addresses.length > 0) return addresses;
      // Neither family: report a failure that is not "no such data" (a timeout) before one that is.
      const reasons = [v4, v6].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      throw reasons.find((reason) => !NO_DATA.has(code(reason) ?? '')) ?? reasons[0];
    },
  };
}

/**
 * The same servers in the shape mailauth asks them (SPF, DKIM keys, DMARC: any record type),
 * with a bounded wait: a lookup that times out becomes temperror, never a hang.
 */
export function mailauthResolver(servers: readonly string[], timeoutMs: number, tries = 2): DNSResolver {
  const resolver = new DnsResolver({ timeout: timeoutMs, tries });
  if (servers.length > 0) resolver.setServers([...servers]);
  // mailauth expects dns.promises.resolve's answers (TXT as string[][], MX as objects); its
  // type names only the first two shapes.
  return (name, rrtype) => resolver.resolve(name, rrtype) as Promise<string[][] | string[]>;
}
