#!/usr/bin/env node
/** argv and environment -> config -> server or a command; exit codes; nothing else. */
import { existsSync } from 'node:fs';
import nodeModule from 'node:module';
import { resolve } from 'node:path';
import { checkConfigFiles } from './config/check.js';
import { bundledConfigDir, ConfigError, loadConfig, type LoadedConfig } from './config/load.js';
import { overridesFromFlags } from './config/overrides.js';
import { ListenError } from './listeners/listen-error.js';
import { SpoolLockedError } from './spool/lock.js';
import { Spool } from './spool/spool.js';
import { packageVersion } from './version.js';
import { parseCliArgs, type ParsedArgs } from './cli/args.js';
import { commandUsage, globalUsage, type CommandHelp } from './cli/help.js';
import { readStdin } from './cli/stdin.js';

const EXIT_USAGE = 2;
// Node 22.1+ keeps V8's compiled code of every module loaded from here on (the server's
// chunks, fastify, smtp-server…) for the next start; Node 20 has no such cache and skips this.
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
// Each command imports its own code when run: `--version` or `queue list` does not pay for
// the whole server (mail parsing, HTTP, DKIM: seconds on a loaded machine), and the server
// does not carry the sink command's SQLite and mailparser (~20 MiB) it never uses.

class UsageError extends Error {}

interface CommandContext {
  readonly args: ParsedArgs;
  /** The arguments after the command's name. */
  readonly rest: readonly string[];
  readonly dev: boolean;
  /** Reads, overrides and validates the chosen config (throws ConfigError). */
  readonly loadConfig: () => Promise<LoadedConfig>;
}

interface Command extends CommandHelp {
  run(context: CommandContext): Promise<number>;
}

const CONFIG = '[--dev | --config PATH] [SETTINGS…]';

/** Every command: its help and what it does. A new command is one more entry. */
const COMMANDS: Readonly<Record<string, Command>> = {
  serve: {
    usage: [`[serve] ${CONFIG}`],
    summary: 'run the server (the default command)',
    details:
      'With --dev and no --spool, mail is kept in a temporary directory removed on exit, and the\n' +
      'self-signed certificate in $XDG_STATE_HOME/mailwharf/certs (~/.local/state/mailwharf/certs).\n' +
      'SIGTERM/SIGINT stop gracefully (exit 0); SIGHUP re-reads the certificate files.',
    async run({ loadConfig, dev }) {
      const loaded = await loadConfig();
      await checkConfigFiles(loaded);
      const { serve } = await import('./cli/serve.js');
      return serve(loaded, dev);
    },
  },
  'check-config': {
    usage: [`check-config ${CONFIG}`],
    summary: 'validate the config, its TLS files and ports, then exit',
    details:
      'Exit 0 when the config would start; 2 with one line per problem, naming the file or variable and the field.',
    async run({ loadConfig }) {
      const loaded = await loadConfig();
      await checkConfigFiles(loaded);
      process.stdout.write(`${loaded.file}: ok (${String(loaded.config.listeners.length)} listeners)\n`);
      return 0;
    },
  },
  queue: {
    usage: [
      'queue list [--json]',
      'queue show ID [--envelope]',
      'queue flush [ID…] | hold ID… | release ID… | delete ID… | bounce ID…',
      'queue hold|release|delete|bounce ALL [held|deferred|queued]   or  - (IDs on stdin)',
    ],
    summary: 'inspect and operate the delivery queue',
    details: 'Uses the spool of the chosen config (--dev | --config PATH, or --spool DIR).',
    async run({ loadConfig, args, rest }) {
      const { config } = await loadConfig();
      const spool = Spool.inspect(config.spool.dir);
      if (!existsSync(spool.queueDir)) {
        process.stderr.write(
          `mailwharf: no spool at ${config.spool.dir} (spool.dir, --spool or MAILWHARF_SPOOL_DIR)\n`,
        );
        return 1;
      }
      const { queueCommand, QueueUsageError } = await import('./cli/queue.js');
      try {
        return await queueCommand(
          spool,
          rest,
          { json: args.values.json === true, envelope: args.values.envelope === true },
          process.stdout,
        );
      } catch (error) {
        if (!(error instanceof QueueUsageError)) throw error;
        process.stderr.write(`mailwharf: ${error.message}\n`);
        return 1;
      }
    },
  },
  sink: {
    usage: ['sink reindex'],
    summary: 'rebuild the captured-mail index from the spool (with the server stopped)',
    async run({ loadConfig, rest }) {
      const { config } = await loadConfig();
      const { sinkCommand, SinkUsageError } = await import('./cli/sink.js');
      try {
        return await sinkCommand(config, rest, process.stdout);
      } catch (error) {
        if (!(error instanceof SinkUsageError)) throw error;
        throw new UsageError(error.message);
      }
    },
  },
  dkim: {
    usage: [
      'dkim keygen DOMAIN SELECTOR [--algorithm rsa-sha256|ed25519-sha256] [--bits 2048] [--key-file PATH]',
    ],
    summary: 'make a DKIM signing key and print the DNS TXT record and the config entry for it',
    // Never called: main() hands dkim its own arguments (it has options of its own).
    run: () => Promise.resolve(EXIT_USAGE),
  },
  tls: {
    usage: ['tls list', 'tls forget DOMAIN'],
    summary: 'list or forget the TLS each recipient domain has shown (never delivered to with less)',
    details: 'Uses the spool of the chosen config; works while the server runs.',
    async run({ loadConfig, rest }) {
      const { config } = await loadConfig();
      const { tlsCommand, TlsUsageError } = await import('./cli/tls.js');
      try {
        return await tlsCommand(config, rest, process.stdout);
      } catch (error) {
        if (!(error instanceof TlsUsageError)) throw error;
        throw new UsageError(error.message);
      }
    },
  },
  'hash-password': {
    usage: ['hash-password'],
    summary: 'read a password on stdin, print its scrypt hash for the config',
    async run() {
      const password = (await readStdin()).replace(/\r?\n$/, '');
      if (password === '') throw new UsageError('hash-password reads the password on stdin; it was empty');
      const { hashPassword } = await import('./auth/passwords.js');
      process.stdout.write(`${await hashPassword(password)}\n`);
      return 0;
    },
  },
  help: {
    usage: ['help [COMMAND]'],
    summary: 'this help, or one command’s',
    run({ rest }) {
      const [name] = rest;
      if (name === undefined) {
        process.stdout.write(globalUsage(COMMANDS));
        return Promise.resolve(0);
      }
      const command = COMMANDS[name];
      if (!command) throw new UsageError(`unknown command "${name}"`);
      process.stdout.write(commandUsage(name, command));
      return Promise.resolve(0);
    },
  },
};

function configPath(values: ParsedArgs['values']): string {
  if (typeof values.config === 'string') return resolve(values.config);
  return resolve(bundledConfigDir, values.dev === true ? 'dev.yaml' : 'mailwharf.yaml');
}

async function main(argv: readonly string[]): Promise<number> {
  // dkim has options of its own, so it parses its own arguments.
  if (argv[0] === 'dkim') {
    const { dkimCommand, DkimUsageError } = await import('./cli/dkim.js');
    try {
      return await dkimCommand(argv.slice(1), process.stdout);
    } catch (error) {
      if (!(error instanceof DkimUsageError)) throw error;
      process.stderr.write(`mailwharf: ${error.message}\n`);
      return EXIT_USAGE;
    }
  }
  const args = parseCliArgs(argv);
  const { values, positionals } = args;
  if (values.version === true) {
    process.stdout.write(`mailwharf ${packageVersion()}\n`);
    return 0;
  }
  const [name = 'serve', ...rest] = positionals;
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}"`);
  if (values.help === true) {
    process.stdout.write(positionals.length === 0 ? globalUsage(COMMANDS) : commandUsage(name, command));
    return 0;
  }
  return command.run({
    args,
    rest,
    dev: values.dev === true && values.config === undefined,
    loadConfig: () => loadConfig(configPath(values), process.env, process.cwd(), overridesFromFlags(values)),
  });
}

/** An error from the operating system (EACCES on a directory, ENOSPC…): its message is one line. */
function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`mailwharf: ${error.message}\n`);
      process.exitCode = EXIT_USAGE;
    } else if (error instanceof ListenError || error instanceof SpoolLockedError || isSystemError(error)) {
      process.stderr.write(`mailwharf: ${error.message}\n`);
      process.exitCode = 1;
    } else if (error instanceof UsageError || (error instanceof TypeError && 'code' in error)) {
      process.stderr.write(`mailwharf: ${error.message}\n${globalUsage(COMMANDS)}`);
      process.exitCode = EXIT_USAGE;
    } else {
      process.stderr.write(
        `mailwharf: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    }
  },
);
