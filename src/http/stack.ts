/**
 * The web side of a server (HTTP API and UI over the sink index, metrics), built only when
 * http.enabled: it is loaded with import(), so a relay without HTTP never pays for
 * fastify, prom-client and mailparser (~40 MiB of RSS measured).
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { packageRoot } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { enqueueLocal } from '../delivery/enqueue.js';
import type { FaultRules } from '../faults/rules.js';
import type { Metrics } from '../metrics.js';
import type { Sink } from '../sink/sink.js';
import type { Envelope } from '../spool/envelope.js';
import type { Spool } from '../spool/spool.js';
import { packageVersion } from '../version.js';
import { countRuntime } from './runtime-stats.js';
import { createHttpServer, type HttpServer } from './server.js';

export interface WebStack {
  readonly sink: Sink;
  readonly http: HttpServer;
  readonly metrics: Metrics;
}

export async function createWebStack(deps: {
  config: Config;
  spool: Spool;
  sink: Sink;
  faults: FaultRules;
  log: Logger;
  release: (id: string, recipients?: readonly string[]) => Promise<Envelope>;
  /** The server's metrics (made by createServer, shared with the metrics listener). */
  metrics: Metrics;
}): Promise<WebStack> {
  const { config, spool, sink, log, metrics } = deps;
  const http = await createHttpServer(
    {
      config,
      sink,
      spool,
      faults: deps.faults,
      log: log.child({ component: 'http' }),
      startedAt: Date.now(),
      version: packageVersion(),
      runtime: countRuntime(spool, sink, metrics),
      release: deps.release,
      store: (message, envelope) =>
        enqueueLocal(spool, message, {
          mailFrom: envelope.from,
          rcptTo: envelope.to,
          hostname: config.hostname,
          listener: 'api',
          // Always captured: mail made over HTTP never goes through SMTP policy, so it
          // must never be relayed (it would make the API an open relay).
          state: 'captured',
        }),
    },
    metrics,
    join(packageRoot(), 'dist', 'ui'),
  );
  return { sink, http, metrics };
}
