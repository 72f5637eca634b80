import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { createAuthenticator } from './auth/users.js';
import { createListener, type Listener } from './listeners/listener.js';
import { faultRuleFromConfig } from './config/faults.js';
import { FaultRules } from './faults/rules.js';
import type { Resolver } from './delivery/routes.js';
import type { DeliveryWorker } from './delivery/worker.js';
import { loadDkimKeys } from './dkim/keys.js';
import { createLookups, mailauthResolver } from './dns/resolver.js';
import type { HttpServer } from './http/server.js';
import type { Metrics } from './metrics.js';
import type { Sink, SinkOptions } from './sink/sink.js';
import { releaseCaptured } from './delivery/release.js';
import type { Envelope } from './spool/envelope.js';
import { createLogger } from './logging.js';
import { Spool, type Recovery } from './spool/spool.js';
import { startJournalScrub } from './spool/journal-scrubber.js';
import { loadTlsMaterial } from './tls/certificates.js';

export interface MailwharfServer {
  readonly config: Config;
  readonly spool: Spool;
  readonly log: Logger;
  /** Bound port per listener name (meaningful after start). */
  readonly ports: Readonly<Record<string, number>>;
  readonly faults: FaultRules;
  /** The captured-mail index and the HTTP server, when http.enabled. */
  readonly sink: Sink | undefined;
  readonly http: HttpServer | undefined;
  readonly metrics: Metrics | undefined;
  /** The delivery worker (relay mode, or capture mode with release configured). */
  readonly delivery: DeliveryWorker | undefined;
  start(): Promise<void>;
  /** Stops accepting, lets sessions finish within the grace period; idempotent. */
  stop(): Promise<void>;
  /** Re-reads the certificate files (SIGHUP). */
  reloadTls(): Promise<void>;
  /** Queues a copy of a captured message for the release route; throws ReleaseError when refused. */
  release(id: string, recipients?: readonly string[]): Promise<Envelope>;
}

export interface ServerOptions {
  readonly logger?: Logger;
  /** The live fault rules (the test fixture passes its own); otherwise those from config. */
  readonly faults?: FaultRules;
  /** DNS for MX routing; tests pass their own. */
  readonly resolver?: Resolver;
  /** Opens the captured-mail index even without HTTP (the test fixture queries it). */
  readonly sink?: SinkOptions;
}

/** Builds every service from config and wires them; used by the CLI and by tests alike. */
export async function createServer(config: Config, options: ServerOptions = {}): Promise<MailwharfServer> {
  const log = options.logger ?? createLogger(config.log);
  // With the sink's index, the files it knows need no reading at start: checkQueue runs after
  // start on the rest (reading 100,000 trailers first took most of a minute).
  const deferFileChecks = wantsSink(config, options);
  const { spool, ...recovery } = await Spool.open(config.spool.dir, { deferFileChecks });
  reportRecovery(recovery, config.spool.dir, log);
  try {
    return await assemble(config, options, log, spool);
  } catch (error) {
    await spool.close();
    throw error;
  }
}

function wantsSink(config: Config, options: ServerOptions): boolean {
  const capturing = config.mode === 'relay' && config.delivery.captureDomains.length > 0;
  return config.http.enabled || options.sink !== undefined || capturing;
}

async function assemble(
  config: Config,
  options: ServerOptions,
  log: Logger,
  spool: Spool,
): Promise<MailwharfServer> {
  const tls = await loadTlsMaterial(config.tls, config.hostname);
  log.info({ source: tls.source, selfSigned: tls.selfSigned }, 'TLS certificate loaded');
  const authenticate = createAuthenticator(config.auth);
  const faults = options.faults ?? new FaultRules();
  if (config.faults.enabled) {
    for (const rule of config.faults.rules) faults.add(faultRuleFromConfig(rule));
    log.warn({ rules: config.faults.rules.length }, 'fault injection is enabled');
  }

  const release = (id: string, recipients?: readonly string[]) =>
    releaseCaptured(spool, config, id, recipients);
  // prom-client is loaded only when something serves metrics (the UI or metrics.port).
  const metrics =
    config.http.enabled || config.metrics !== undefined
      ? new (await import('./metrics.js')).Metrics(() => spool.count())
      : undefined;
  if (metrics) {
    spool.onCommitted((envelope) => {
      metrics.stored(envelope.listener.name, envelope.size);
    });
  }
  const metricsListener =
    metrics && config.metrics
      ? new (await import('./metrics-listener.js')).MetricsListener(
          metrics,
          config.metrics.host,
          config.metrics.port,
        )
      : undefined;
  const capturing = config.mode === 'relay' && config.delivery.captureDomains.length > 0;
  if (capturing) {
    const { captureRelayedCopies } = await import('./sink/relay-capture.js');
    captureRelayedCopies(spool, config.delivery.captureDomains);
  }
  const sink = wantsSink(config, options)
    ? await (
        await import('./sink/sink.js')
      ).Sink.open(spool, config.sink, log.child({ component: 'sink' }), options.sink ?? {})
    : undefined;
  const web =
    config.http.enabled && sink && metrics
      ? await (
          await import('./http/stack.js')
        ).createWebStack({ config, spool, sink, faults, log, release, metrics })
      : undefined;
  // Loaded only when a policy asks for it: mailauth is not small.
  const inboundAuth = Object.values(config.policies).some((policy) => policy.inboundAuth !== undefined)
    ? (await import('./smtp/inbound-auth.js')).inboundAuthStarter(
        // The relay's one view of DNS, as for delivery: an operator's split horizon applies to both.
        mailauthResolver(config.delivery.dns.servers, config.delivery.dns.timeoutSeconds * 1000),
      )
    : undefined;
  const listeners: Listener[] = config.listeners.map((listener) => {
    const policy = config.policies[listener.policy];
    // The schema guarantees the policy exists; this is a bug if it fires.
    if (!policy) throw new Error(`listener ${listener.name}: unknown policy ${listener.policy}`);
    return createListener(listener, policy, {
      hostname: config.hostname,
      acceptedDomains: config.acceptedDomains,
      postmaster: config.postmaster ?? `postmaster@${config.acceptedDomains[0] ?? config.hostname}`,
      spool,
      authenticate,
      log,
      mode: config.mode,
      tls,
      minTlsVersion: config.tls.minVersion,
      shutdownGraceMs: config.shutdownGraceSeconds * 1000,
      faults,
      ...(inboundAuth ? { inboundAuth } : {}),
      ...(metrics ? { metrics, onAuthFailure: (failure) => metrics.authFailure(failure.listener) } : {}),
    });
  });

  const delivery =
    config.mode === 'relay' || config.release !== undefined
      ? new (await import('./delivery/worker.js')).DeliveryWorker({
          spool,
          config,
          log: log.child({ component: 'delivery' }),
          resolver:
            options.resolver ??
            createLookups(config.delivery.dns.servers, config.delivery.dns.timeoutSeconds * 1000),
          ...(config.delivery.dkim.length > 0
            ? // Loaded only when keys are configured: mailauth is not small.
              {
                dkim: new (await import('./dkim/sign.js')).DkimSigner(
                  loadDkimKeys(config.delivery.dkim, 'config'),
                ),
              }
            : {}),
          ...(metrics ? { events: { attempted: (status) => metrics.deliveryAttempt(status) } } : {}),
        })
      : undefined;
  if (delivery && metrics) metrics.watchQueue(delivery);
  const http = web?.http;
  const ports: Record<string, number> = {};
  let stopping: Promise<void> | undefined;
  let deliveryStarted = false;
  let fileChecks: Promise<void> = Promise.resolve();
  let scrubber: { stop(): Promise<void> } | undefined;

  /** Stops what runs, side by side and each within the grace period; the lock goes last, always. */
  const shutdown = async (): Promise<void> => {
    log.info('stopping: no new connections, waiting for sessions to finish');
    const graceMs = config.shutdownGraceSeconds * 1000;
    try {
      await Promise.all([
        ...listeners.filter((listener) => listener.port() !== 0).map((listener) => listener.close()),
        http?.close(graceMs),
        metricsListener?.close(),
        deliveryStarted ? delivery?.stop(graceMs) : undefined,
      ]);
      await fileChecks;
      await sink?.close();
    } finally {
      await scrubber?.stop();
      await spool.close();
      log.info('stopped');
    }
  };

  return {
    config,
    spool,
    log,
    ports,
    faults,
    delivery,
    sink,
    http,
    metrics,
    async start() {
      try {
        for (const listener of listeners) {
          await listener.listen();
          ports[listener.config.name] = listener.port();
        }
        if (http) {
          await http.listen();
          ports.http = http.port();
        }
        if (metricsListener) {
          await metricsListener.listen();
          ports.metrics = metricsListener.port();
        }
        if (delivery) {
          deliveryStarted = true;
          await delivery.start();
        }
        if (sink) fileChecks = checkQueueLater(spool, sink, log);
        scrubber = startJournalScrub(spool, log);
      } catch (error) {
        // Whatever did start stops again, and the spool lock goes, so the process can exit.
        stopping ??= shutdown();
        await stopping.catch(() => undefined);
        throw error;
      }
    },
    stop() {
      stopping ??= shutdown();
      return stopping;
    },
    release,
    async reloadTls() {
      const fresh = await loadTlsMaterial(config.tls, config.hostname);
      for (const listener of listeners) listener.updateTls(fresh);
      log.info({ source: fresh.source }, 'TLS certificate reloaded');
    },
  };
}

/**
 * Spool.open's work on queue/, deferred to after start, on what the index does not know; none
 * when queue/ has not changed since the sink last closed cleanly (nothing new to look at).
 */
async function checkQueueLater(spool: Spool, sink: Sink, log: Logger): Promise<void> {
  if (sink.queueUnchanged) return;
  try {
    reportRecovery(await spool.checkQueue(sink.knownIds()), spool.dir, log);
  } catch (error) {
    log.error({ err: String(error) }, 'could not check the queue files');
  }
}

function reportRecovery(recovery: Recovery, dir: string, log: Logger): void {
  const { removed, migrated, quarantined } = recovery;
  if (removed.length > 0) log.warn({ removed }, 'removed unacknowledged spool files left by a crash');
  if (migrated.length > 0) log.info({ migrated: migrated.length }, 'queued messages moved to one file each');
  if (quarantined.length > 0) {
    log.error(
      { quarantined, dir: `${dir}/quarantine` },
      'files in the queue that are not whole messages were moved aside',
    );
  }
  if (recovery.lost !== undefined) {
    log.error(
      { lost: recovery.lost },
      'queued messages damaged in the journal (or cut by a power loss before they were acknowledged): not delivered, copies in quarantine/',
    );
  }
  if (recovery.resurrected !== undefined) {
    log.error(
      { resurrected: recovery.resurrected, unnamed: recovery.unnamedRemoves ?? 0 },
      'journal REMOVE records damaged past repair: these messages are queued again and may be delivered twice',
    );
  }
}
