import { rm } from 'node:fs/promises';
import type { LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createServer, type MailwharfServer } from '../server.js';
import { makeDevDirs } from './dev-dirs.js';
import { meaningOfSignal, type FirstSignal } from './shutdown-signals.js';
import { capYoungGeneration, semiSpaceSizeChosen } from './young-generation.js';

/** `--dev` with the bundled profile: spool and certificate away from the working directory. */
async function placeDevDirs(loaded: LoadedConfig): Promise<{ config: Config; cleanup?: string }> {
  const { config, file } = loaded;
  const spoolGiven = loaded.sourceOf(['spool', 'dir']) !== file;
  const certsGiven = loaded.sourceOf(['tls', 'selfSignedDir']) !== file;
  if (spoolGiven && certsGiven) return { config };
  const dirs = await makeDevDirs();
  return {
    config: {
      ...config,
      spool: spoolGiven ? config.spool : { ...config.spool, dir: dirs.spool },
      tls: certsGiven ? config.tls : { ...config.tls, selfSignedDir: dirs.certs },
    },
    cleanup: dirs.temporary,
  };
}

/** The one human line a dev user reads: where to click, where to send, where mail is kept. */
function startupLine(server: MailwharfServer, temporarySpool: boolean): string {
  const { config, ports } = server;
  const smtp = config.listeners.map(
    (listener) => `${listener.name} ${listener.host}:${String(ports[listener.name])}`,
  );
  const ui =
    ports.http === undefined
      ? 'web UI off'
      : `web UI http://${config.http.host}:${String(ports.http)}${config.http.basePath}/`;
  const spool = temporarySpool
    ? `spool ${config.spool.dir} (temporary, removed on exit; --spool DIR keeps mail)`
    : `spool ${config.spool.dir}`;
  const metrics =
    ports.metrics === undefined
      ? []
      : [`metrics http://${config.metrics?.host ?? ''}:${String(ports.metrics)}/metrics`];
  return [ui, `SMTP ${smtp.join(', ')}`, ...metrics, spool].join(' · ');
}

/** Runs the server until SIGTERM/SIGINT; SIGHUP re-reads the certificate. Resolves the exit code. */
export async function serve(loaded: LoadedConfig, dev: boolean): Promise<number> {
  // The server owns this process, so it may size V8's heap; startMailwharf() in a test's
  // process leaves that process's heap alone.
  if (!semiSpaceSizeChosen(process.execArgv, process.env.NODE_OPTIONS)) capYoungGeneration();
  const { config, cleanup } = dev
    ? await placeDevDirs(loaded)
    : { config: loaded.config, cleanup: undefined };
  const removeTemporary = async (): Promise<void> => {
    if (cleanup !== undefined) await rm(cleanup, { recursive: true, force: true });
  };
  let server: MailwharfServer;
  try {
    server = await createServer(config);
    await server.start();
  } catch (error) {
    await removeTemporary();
    throw error;
  }
  server.log.info(startupLine(server, cleanup !== undefined && config.spool.dir.startsWith(cleanup)));
  server.log.info({ ports: server.ports, spool: config.spool.dir }, 'mailwharf ready');
  return new Promise<number>((resolveExit) => {
    let first: FirstSignal | undefined;
    const shutdown = (signal: NodeJS.Signals): void => {
      const atMs = performance.now();
      const meaning = meaningOfSignal(first, signal, atMs, config.shutdownRepeatWindowSeconds * 1000);
      if (meaning === 'repeat') {
        server.log.info({ signal }, 'same signal again (forwarded by a parent): already shutting down');
        return;
      }
      if (meaning === 'exit-now') {
        server.log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      first = { signal, atMs };
      server.log.info({ signal }, 'shutting down');
      server
        .stop()
        .then(removeTemporary)
        .then(
          () => resolveExit(0),
          (error: unknown) => {
            server.log.error({ err: String(error) }, 'error while stopping');
            resolveExit(1);
          },
        );
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
    process.on('SIGHUP', () => {
      server.reloadTls().catch((error: unknown) => {
        server.log.error({ err: String(error) }, 'TLS reload failed; keeping the old certificate');
      });
    });
  });
}
