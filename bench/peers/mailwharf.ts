/** mailwharf itself: the built CLI with one plain relay listener on loopback. */
import { rmSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Spool } from '../../src/spool/spool.js';
import { loadTlsMaterial } from '../../src/tls/certificates.js';
import { MAILWHARF_CLI } from '../paths.js';
import { freePort, launch, waitForPort } from '../proc.js';
import { tempDir } from './files.js';
import type { Peer } from './peer.js';

export interface MailwharfOptions {
  /** Extra node flags, e.g. --cpu-prof (the profile is written when it stops). */
  readonly nodeArgs?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Another build's cli.js, to compare two builds in the same conditions (bench/cost.ts). */
  readonly cli?: string;
}

const HOSTNAME = 'mx.bench.test';

let certs: Promise<string> | undefined;

/**
 * One self-signed certificate for every run, made before the first. mailwharf makes it on
 * its very first start only and reads it after; a fresh one per run would measure a new
 * installation (about 14 MiB more peak RSS from the certificate libraries), not a server.
 */
function sharedCertsDir(): Promise<string> {
  certs ??= (async () => {
    const dir = await tempDir('mailwharf-certs');
    process.once('exit', () => {
      rmSync(dir, { recursive: true, force: true });
    });
    await loadTlsMaterial({ selfSignedDir: dir, minVersion: 'TLSv1.2' }, HOSTNAME);
    return dir;
  })();
  return certs;
}

export function benchConfig(
  root: string,
  port: number,
  certsDir = join(root, 'certs'),
): Record<string, unknown> {
  return {
    hostname: HOSTNAME,
    acceptedDomains: ['bench.test'],
    // Capture mode with HTTP off: messages stay in the spool, no delivery worker and no
    // index run beside intake. The SMTP path up to 250 is the same as in relay mode.
    mode: 'capture',
    spool: { dir: join(root, 'spool') },
    tls: { selfSignedDir: certsDir },
    log: { level: 'warn' },
    shutdownGraceSeconds: 5,
    policies: {
      relay: {
        auth: 'none',
        relay: { trustedNetworks: ['127.0.0.0/8'] },
        greetPauseMs: 0,
        limits: {
          maxMessageSize: 64 * 1024 * 1024,
          maxConnections: 1000,
          maxConnectionsPerClient: 1000,
        },
      },
    },
    listeners: [{ name: 'smtp', role: 'relay', port, host: '127.0.0.1', tls: 'none', policy: 'relay' }],
  };
}

export function mailwharfPeer(options: MailwharfOptions = {}): Peer {
  return {
    name: 'mailwharf',
    description:
      '`node dist/src/cli.js --config …`: one relay listener (tls none, auth none) on 127.0.0.1, ' +
      'trusted 127.0.0.0/8, acceptedDomains [bench.test], capture mode, http off, log warn, greetPauseMs 0, ' +
      'spool in a temp dir (a message up to 64 KiB is a record appended to the journal, one fdatasync shared by the commits that meet, before 250; a larger one a file: fdatasync, rename into queue/, shared fsync of queue/); ' +
      'its self-signed certificate made once before the first run, as on any start after the first',
    async start() {
      const root = await tempDir('mailwharf');
      const port = await freePort();
      const configPath = join(root, 'mailwharf.yaml');
      await writeFile(configPath, stringify(benchConfig(root, port, await sharedCertsDir())));
      const child = launch(
        process.execPath,
        [...(options.nodeArgs ?? []), options.cli ?? MAILWHARF_CLI, '--config', configPath],
        {
          cwd: root,
          ...(options.env ? { env: options.env } : {}),
        },
      );
      await waitForPort(port, child, 'mailwharf');
      return {
        port,
        pid: child.pid,
        // Journal and queue/ alike, read as the queue CLI reads them (afresh each time).
        stored: () => Spool.inspect(join(root, 'spool')).count(),
        async stop() {
          await child.stop();
          await rm(root, { recursive: true, force: true });
        },
      };
    },
  };
}
