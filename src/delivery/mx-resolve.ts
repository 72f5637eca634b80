/**
 * The addresses of the MX hosts, found by our resolver (delivery.dns), so the connection goes
 * to an address we looked up while TLS still names the host. As Postfix (smtp_addr.c), every
 * host is resolved before the first connection, and each address becomes a hop of its own,
 * in MX order. A host without an address is skipped; none at all is a route error: permanent
 * when every answer said "no such name or data" (Postfix's 5.4.4), else temporary (4.4.3).
 */
import { isIP } from 'node:net';
import type { Lookups } from '../dns/resolver.js';
import { RouteError, type Hop } from './routes.js';

const NO_ADDRESS = new Set(['ENOTFOUND', 'ENODATA']);

export async function withAddresses(
  hops: readonly Hop[],
  lookups: Pick<Lookups, 'resolveAddresses'>,
): Promise<Hop[]> {
  const answers = await Promise.all(
    hops.map(async (hop) => {
      if (hop.address !== undefined || isIP(hop.host) !== 0)
        return { hop, addresses: [hop.address ?? hop.host] };
      try {
        return { hop, addresses: await lookups.resolveAddresses(hop.host) };
      } catch (error) {
        return { hop, addresses: [], code: (error as NodeJS.ErrnoException).code ?? String(error) };
      }
    }),
  );
  const resolved = answers.flatMap(({ hop, addresses }) => addresses.map((address) => ({ ...hop, address })));
  if (resolved.length > 0) return resolved;
  const failures = answers.map(({ hop, code }) => `${hop.host}: ${code ?? 'no address'}`).join(', ');
  const permanent = answers.every(({ code }) => code === undefined || NO_ADDRESS.has(code));
  throw new RouteError(`no address for the mail exchanger (${failures})`, permanent ? '5.4.4' : '4.4.3');
}
