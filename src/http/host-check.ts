import { hostname as machineHostname, networkInterfaces } from 'node:os';

/** What the Host check knows about this machine; passed in so tests control it. */
export interface MachineNames {
  readonly hostname: string;
  readonly addresses: readonly string[];
}

export function localMachineNames(): MachineNames {
  const addresses = Object.values(networkInterfaces()).flatMap((list) =>
    (list ?? []).map((entry) => entry.address),
  );
  return { hostname: machineHostname(), addresses };
}

const WILDCARD_BINDS = new Set(['0.0.0.0', '::', '[::]']);

/** An IPv6 literal is written in brackets in a Host header; names compare lower-case. */
function hostForm(name: string): string {
  const lower = name.toLowerCase();
  return lower.includes(':') && !lower.startsWith('[') ? `[${lower}]` : lower;
}

/**
 * The Host names a page may use to reach us (DNS rebinding: a page on evil.example that
 * resolves its own name to our address must not read the mailbox). Always: loopback names,
 * the bind address, the configured hostname and `http.allowedHosts`. A wildcard bind
 * (0.0.0.0, ::) adds the machine's own names and addresses, never "any".
 */
export function allowedHostNames(
  bind: string,
  configuredHostname: string,
  extra: readonly string[],
  machine: MachineNames,
): Set<string> {
  const names = ['localhost', '127.0.0.1', '::1', bind, configuredHostname, ...extra];
  if (WILDCARD_BINDS.has(bind)) names.push(machine.hostname, ...machine.addresses);
  return new Set(names.filter((name) => !WILDCARD_BINDS.has(name)).map(hostForm));
}

/** The host part of a Host header or an origin's authority, port removed. */
export function hostOnly(authority: string): string {
  const lower = authority.trim().toLowerCase();
  if (lower.startsWith('[')) return lower.slice(0, lower.indexOf(']') + 1);
  return lower.replace(/:\d*$/, '');
}

export function isAllowedHost(hostHeader: string | undefined, allowed: ReadonlySet<string>): boolean {
  // HTTP/1.0 clients may send no Host; a browser always sends one, so rebinding needs it.
  if (hostHeader === undefined || hostHeader === '') return true;
  const host = hostOnly(hostHeader);
  // Any loopback address literal (127.0.0.0/8): rebinding needs a name of the attacker's, and
  // a literal is the page's own origin, as 127.0.0.1 is.
  return allowed.has(host) || /^127(\.\d{1,3}){3}$/.test(host);
}
