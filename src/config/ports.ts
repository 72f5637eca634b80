/** Two sockets of one config on the same port: refused before anything binds. */

interface Binding {
  readonly host: string;
  readonly port: number;
  readonly path: readonly (string | number)[];
  readonly label: string;
}

interface PortsView {
  readonly listeners: readonly { readonly name: string; readonly host: string; readonly port: number }[];
  readonly http: { readonly enabled: boolean; readonly host: string; readonly port: number };
  readonly metrics?: { readonly host: string; readonly port: number } | undefined;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

/** A wildcard address takes the port on every address, so it clashes with any host. */
function overlaps(a: string, b: string): boolean {
  return a === b || WILDCARDS.has(a) || WILDCARDS.has(b);
}

function bindings(config: PortsView): Binding[] {
  const all: Binding[] = config.listeners.map((listener, index) => ({
    host: listener.host,
    port: listener.port,
    path: ['listeners', index, 'port'],
    label: `listener "${listener.name}"`,
  }));
  if (config.http.enabled) all.push({ ...config.http, path: ['http', 'port'], label: 'http.port' });
  if (config.metrics) all.push({ ...config.metrics, path: ['metrics', 'port'], label: 'metrics.port' });
  // Port 0 asks the system for a free port each time: never a clash.
  return all.filter((binding) => binding.port !== 0);
}

/** Every binding that repeats an earlier one's port on an overlapping address, as schema issues. */
export function portClashes(config: PortsView): { path: (string | number)[]; message: string }[] {
  const seen: Binding[] = [];
  const clashes: { path: (string | number)[]; message: string }[] = [];
  for (const binding of bindings(config)) {
    const earlier = seen.find((other) => other.port === binding.port && overlaps(other.host, binding.host));
    if (earlier) {
      clashes.push({
        path: [...binding.path],
        message: `port ${String(binding.port)} is already used by ${earlier.label} (${earlier.host}:${String(earlier.port)})`,
      });
    }
    seen.push(binding);
  }
  return clashes;
}
