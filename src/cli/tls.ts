/**
 * `mailwharf tls list` and `mailwharf tls forget DOMAIN`: the per-domain TLS memory in the
 * spool (spool/tls/). Forgetting is how an operator says a domain may again be sent to with
 * less TLS than it showed before (its MX lost STARTTLS or its certificate for good); it
 * works with the server running, which reads the memory at every delivery.
 */
import type { Config } from '../config/schema.js';
import { TlsMemory, tlsMemoryDir, tlsMemoryKey } from '../delivery/tls-memory.js';

export const TLS_USAGE = 'usage: mailwharf tls list | tls forget DOMAIN';

export class TlsUsageError extends Error {}

export async function tlsCommand(
  config: Config,
  argv: readonly string[],
  out: NodeJS.WritableStream,
): Promise<number> {
  const memory = new TlsMemory(tlsMemoryDir(config.spool.dir));
  const [action, domain, ...extra] = argv;
  if (action === 'list' && domain === undefined) {
    const entries = await memory.list();
    if (entries.length === 0) out.write('no domain remembered\n');
    for (const entry of entries)
      out.write(`${entry.domain}  ${entry.level}  seen ${entry.seenAt} at ${entry.host}\n`);
    return 0;
  }
  if (action !== 'forget' || domain === undefined || extra.length > 0) throw new TlsUsageError(TLS_USAGE);
  if (tlsMemoryKey(domain) === undefined) throw new TlsUsageError(`tls forget: "${domain}" is not a domain`);
  if (!(await memory.forget(domain))) {
    out.write(`${domain}: not remembered; nothing to forget\n`);
    return 1;
  }
  out.write(`${domain}: forgotten; the next delivery takes TLS as the route and MTA-STS say\n`);
  return 0;
}
