import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createServer, type MailwharfServer } from '../../src/server.js';
import type { SinkOptions } from '../../src/sink/sink.js';

/** The test user's password; its scrypt hash is in the config below. */
export const ALICE = { username: 'alice@local.test', password: 'correct horse battery staple' };
/** Made once with `mailwharf hash-password` (scrypt, N=32768). */
const ALICE_HASH =
  'scrypt$N=32768,r=8,p=1$zRr0JoMYuC+yKC+n41OAeQ==$A/4QQjpE9J7UKi+a7m9rd0/JHYUoh9+5ePsw5kDAMC4=';

type Overrides = Record<string, unknown>;

/**
 * The production roles on ephemeral loopback ports: relay (25, trusts 127.0.0.1 only),
 * submission (587), submissions (465), alt-submission (2525). `patch` edits the raw
 * config before validation, so tests change policy exactly as a config file would.
 */
export function testConfigInput(
  dirs: { spool: string; certs: string },
  patch?: (raw: Overrides) => void,
): Overrides {
  const limits = { maxMessageSize: 1024 * 1024, maxRecipients: 100, idleTimeoutSeconds: 300 };
  const raw: Overrides = {
    hostname: 'mx.test',
    acceptedDomains: ['local.test'],
    mode: 'relay',
    // Nothing listens on port 9 of loopback: relayed mail is deferred, never sent anywhere,
    // so each message stays in the spool under the id of its 250 for the test to read.
    // (Not captureDomains: a captured recipient's copy is a message of its own, and the
    // original leaves the queue once its other recipients are done.)
    delivery: {
      route: { type: 'smarthost', host: '127.0.0.1', port: 9, tls: 'none' },
    },
    spool: { dir: dirs.spool },
    tls: { selfSignedDir: dirs.certs },
    auth: { users: [{ username: ALICE.username, passwordHash: ALICE_HASH }] },
    log: { level: 'silent' },
    shutdownGraceSeconds: 2,
    policies: {
      relay: {
        auth: 'none',
        relay: { trustedNetworks: ['127.0.0.1/32'], authenticated: false },
        limits: { ...limits },
      },
      submission: { auth: 'required', authRequiresTls: true, limits: { ...limits } },
    },
    listeners: [
      { name: 'smtp', role: 'relay', port: 0, host: '127.0.0.1', tls: 'starttls', policy: 'relay' },
      {
        name: 'submission',
        role: 'submission',
        port: 0,
        host: '127.0.0.1',
        tls: 'starttls',
        policy: 'submission',
      },
      {
        name: 'submissions',
        role: 'submissions',
        port: 0,
        host: '127.0.0.1',
        tls: 'implicit',
        policy: 'submission',
      },
      {
        name: 'alt-submission',
        role: 'submission',
        port: 0,
        host: '127.0.0.1',
        tls: 'starttls',
        policy: 'submission',
      },
    ],
  };
  patch?.(raw);
  return raw;
}

export interface TestServer {
  readonly server: MailwharfServer;
  readonly config: Config;
  readonly root: string;
  port(listener: string): number;
  /** The self-signed certificate, for clients that verify. */
  readonly ca: Buffer;
  close(): Promise<void>;
}

/** A patch: the dev sink (capture mode, HTTP on a free port) behind one plain relay listener. */
export function captureWithHttp(raw: Overrides): void {
  raw.mode = 'capture';
  raw.http = { enabled: true, port: 0 };
  raw.listeners = [{ name: 'smtp', role: 'relay', port: 0, host: '127.0.0.1', tls: 'none', policy: 'relay' }];
}

/** Policy objects inside the raw config, for patches. */
export function policy(raw: Overrides, name: string): Record<string, unknown> {
  const policies = raw.policies as Record<string, Record<string, unknown>>;
  const found = policies[name];
  if (!found) throw new Error(`no policy ${name}`);
  return found;
}

export function limitsOf(raw: Overrides, name: string): Record<string, unknown> {
  return policy(raw, name).limits as Record<string, unknown>;
}

export async function startTestServer(
  patch?: (raw: Overrides) => void,
  options: { logger?: Logger; sink?: SinkOptions } = {},
): Promise<TestServer> {
  const root = await mkdtemp(join(tmpdir(), 'mailwharf-test-'));
  const dirs = { spool: join(root, 'spool'), certs: join(root, 'certs') };
  const config = validateConfig(testConfigInput(dirs, patch), 'test config');
  const server = await createServer(config, {
    logger: options.logger ?? pino({ level: 'silent' }),
    ...(options.sink ? { sink: options.sink } : {}),
  });
  await server.start();
  const { readFile } = await import('node:fs/promises');
  const ca = await readFile(join(dirs.certs, 'mx.test.selfsigned.crt'));
  return {
    server,
    config,
    root,
    ca,
    port(listener) {
      const port = server.ports[listener];
      if (port === undefined) throw new Error(`no listener ${listener}`);
      return port;
    },
    async close() {
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
