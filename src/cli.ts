#!/usr/bin/env node
/** argv and environment -> config -> server or a queue command; exit codes; nothing else. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { hashPassword } from './auth/passwords.js';
import { bundledConfigDir, ConfigError, loadConfigFile } from './config/load.js';
import type { Config } from './config/schema.js';
import { ListenError } from './listeners/listener.js';
import { createServer } from './server.js';
import { SpoolLockedError } from './spool/lock.js';
import { Spool } from './spool/spool.js';
import { readStdin } from './cli/stdin.js';
import { queueCommand, QueueUsageError } from './cli/queue.js';
import { dkimCommand, DkimUsageError } from './cli/dkim.js';

const USAGE = `usage:
  mailwharf [--dev | --config PATH]                 serve
  mailwharf check-config [--dev | --config PATH]    validate and exit
  mailwharf queue list [--json] [--dev | --config PATH]
  mailwharf queue show ID [--envelope] [--dev | --config PATH]
  mailwharf queue flush [ID…] | hold ID… | release ID… | delete ID… | bounce ID…
  mailwharf hash-password                           reads the password on stdin, prints a scrypt hash
  mailwharf dkim keygen DOMAIN SELECTOR [--algorithm rsa-sha256|ed25519-sha256] [--key-file PATH]

environment: MAILWHARF_HOSTNAME, MAILWHARF_SPOOL_DIR, MAILWHARF_TLS_CERT, MAILWHARF_TLS_KEY, MAILWHARF_LOG_LEVEL`;

const EXIT_USAGE = 2;

class UsageError extends Error {}

function configPath(values: { config?: string | undefined; dev?: boolean | undefined }): string {
  if (values.config !== undefined) return resolve(values.config);
  return resolve(bundledConfigDir, values.dev === true ? 'dev.yaml' : 'mailwharf.yaml');
}

async function serve(config: Config): Promise<number> {
  const server = await createServer(config);
  await server.start();
  server.log.info({ ports: server.ports }, 'mailwharf ready');
  return new Promise<number>((resolveExit) => {
    let signalled = false;
    const shutdown = (signal: string): void => {
      if (signalled) {
        server.log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      signalled = true;
      server.log.info({ signal }, 'shutting down');
      server.stop().then(
        () => resolveExit(0),
        (error: unknown) => {
          server.log.error({ err: String(error) }, 'error while stopping');
          resolveExit(1);
        },
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGHUP', () => {
      server.reloadTls().catch((error: unknown) => {
        server.log.error({ err: String(error) }, 'TLS reload failed; keeping the old certificate');
      });
    });
  });
}

async function main(argv: readonly string[]): Promise<number> {
  // dkim has options of its own, so it parses its own arguments.
  if (argv[0] === 'dkim') {
    try {
      return await dkimCommand(argv.slice(1), process.stdout);
    } catch (error) {
      if (!(error instanceof DkimUsageError)) throw error;
      process.stderr.write(`mailwharf: ${error.message}\n`);
      return EXIT_USAGE;
    }
  }
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      dev: { type: 'boolean' },
      json: { type: 'boolean' },
      envelope: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (command === 'hash-password') {
    const password = (await readStdin()).replace(/\r?\n$/, '');
    if (password === '') throw new UsageError('hash-password reads the password on stdin; it was empty');
    process.stdout.write(`${await hashPassword(password)}\n`);
    return 0;
  }
  const config = await loadConfigFile(configPath(values));
  switch (command) {
    case undefined:
    case 'serve':
      return serve(config);
    case 'check-config':
      process.stdout.write(`${configPath(values)}: ok (${config.listeners.length} listeners)\n`);
      return 0;
    case 'queue': {
      const spool = Spool.inspect(config.spool.dir);
      if (!existsSync(spool.queueDir)) {
        process.stderr.write(
          `mailwharf: no spool at ${config.spool.dir} (spool.dir, or MAILWHARF_SPOOL_DIR)\n`,
        );
        return 1;
      }
      try {
        return await queueCommand(
          spool,
          rest,
          { json: values.json === true, envelope: values.envelope === true },
          process.stdout,
        );
      } catch (error) {
        if (!(error instanceof QueueUsageError)) throw error;
        process.stderr.write(`mailwharf: ${error.message}\n`);
        return 1;
      }
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError || error instanceof ListenError || error instanceof SpoolLockedError) {
      process.stderr.write(`mailwharf: ${error.message}\n`);
      process.exitCode = error instanceof ConfigError ? EXIT_USAGE : 1;
    } else if (error instanceof UsageError || (error instanceof TypeError && 'code' in error)) {
      process.stderr.write(`mailwharf: ${error.message}\n${USAGE}\n`);
      process.exitCode = EXIT_USAGE;
    } else {
      process.stderr.write(
        `mailwharf: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    }
  },
);
