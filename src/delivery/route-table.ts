/**
 * Per-domain routes (Postfix's transport_maps): the first entry whose domains match the
 * recipient's domain decides the route; none matches: the default `delivery.route`.
 * A pattern is a domain ("example.com": that domain only) or "*.example.com" (its subdomains
 * at any depth, as Postfix's ".example.com"; list both for the domain and its subdomains).
 */

export interface RouteEntry<R> {
  readonly domains: readonly string[];
  readonly route: R;
}

export function domainMatches(pattern: string, domain: string): boolean {
  const name = domain.toLowerCase().replace(/\.$/, '');
  if (!pattern.startsWith('*.')) return pattern === name;
  return name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1;
}

/** The route for a recipient domain, and which entry chose it (-1: the default), for the log. */
export function routeForDomain<R>(
  domain: string,
  table: readonly RouteEntry<R>[],
  fallback: R,
): { readonly route: R; readonly entry: number } {
  const entry = table.findIndex((e) => e.domains.some((pattern) => domainMatches(pattern, domain)));
  const found = table[entry];
  return found ? { route: found.route, entry } : { route: fallback, entry: -1 };
}
