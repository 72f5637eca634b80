import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';

export const CLI = resolve(import.meta.dirname, '../../dist/src/cli.js');

function assertBuilt(): void {
  if (!existsSync(CLI))
    throw new Error(`${CLI} is missing: run "npm run build" (npm test does it in pretest)`);
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to completion (bounded), returning its output as text. */
export function runCli(
  args: readonly string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<RunResult> {
  assertBuilt();
  return new Promise((resolvePromise) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      {
        timeout: 20_000,
        env: { ...process.env, ...options.env },
        cwd: options.cwd,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'buffer',
      },
      (error, stdout, stderr) => {
        const code = error && typeof error.code === 'number' ? error.code : error ? null : 0;
        resolvePromise({ code, stdout: stdout.toString('latin1'), stderr: stderr.toString('utf8') });
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}

/** The CLI under `ulimit -n LIMIT` (a shell sets it, then execs node), for listings of a large backlog. */
export function cliWithFileLimit(limit: number, args: readonly string[]): Promise<RunResult> {
  assertBuilt();
  return new Promise((resolvePromise) => {
    execFile(
      '/bin/sh',
      ['-c', `ulimit -n ${String(limit)} && exec "$0" "$@"`, process.execPath, CLI, ...args],
      { timeout: 120_000, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error && typeof error.code === 'number' ? error.code : error ? null : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly ports: Readonly<Record<string, number>>;
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `mailwharf --config PATH` as a child process and resolves once it is ready. */
export function startServerProcess(configPath: string, timeoutMs = 15_000): Promise<ServerProcess> {
  return startCliProcess(['--config', configPath], {}, timeoutMs);
}

/** Starts `mailwharf ARGS…` (in `cwd`, with `env` added) and resolves once it logs that it is ready. */
export async function startCliProcess(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
  timeoutMs = 15_000,
): Promise<ServerProcess> {
  assertBuilt();
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
  });
  const logs: Record<string, unknown>[] = [];
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ports = await new Promise<Record<string, number>>((resolveReady, reject) => {
    let pending = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server not ready within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === 'mailwharf ready') {
            clearTimeout(timer);
            resolveReady(entry.ports as Record<string, number>);
          }
        } catch {
          // not a log line
        }
      }
    });
    void exit.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before ready; stderr: ${stderr}`));
    });
  });
  return { child, ports, logs, exited: () => exit };
}

/** A config file for a child-process server: one relay listener on an ephemeral port. */
export async function writeProcessConfig(
  extra: Record<string, unknown> = {},
): Promise<{ root: string; path: string; spool: string }> {
  const root = await mkdtemp(join(tmpdir(), 'mailwharf-proc-'));
  const spool = join(root, 'spool');
  const config = {
    hostname: 'mx.test',
    acceptedDomains: ['local.test'],
    // Nothing listens on port 9 of loopback: relayed mail is deferred, never sent anywhere.
    delivery: { route: { type: 'smarthost', host: '127.0.0.1', port: 9, tls: 'none' } },
    spool: { dir: spool },
    tls: { selfSignedDir: join(root, 'certs') },
    log: { level: 'info' },
    shutdownGraceSeconds: 3,
    policies: { relay: { auth: 'none', relay: { trustedNetworks: ['127.0.0.1/32'] } } },
    listeners: [
      { name: 'smtp', role: 'relay', port: 0, host: '127.0.0.1', tls: 'starttls', policy: 'relay' },
    ],
    ...extra,
  };
  const path = join(root, 'mailwharf.yaml');
  await writeFile(path, stringify(config));
  return { root, path, spool };
}
