/** Child processes for the bench: start, wait for a port, stop by PID (bounded waits). */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type AddressInfo } from 'node:net';

export interface Child {
  readonly pid: number;
  readonly process: ChildProcess;
  /** stdout and stderr so far (the last 64 KiB of each). */
  output(): string;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

const KEEP = 64 * 1024;

export function launch(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Child {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { pid } = child;
  if (pid === undefined) throw new Error(`could not start ${command}`);
  let out = '';
  const keep = (chunk: Buffer): void => {
    out = (out + chunk.toString()).slice(-KEEP);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  return {
    pid,
    process: child,
    output: () => out,
    hasExited: () => exited,
    async stop(graceMs = 10_000) {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** A port free on 127.0.0.1 right now (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Resolves once something accepts TCP connections on the port; throws on exit or timeout. */
export async function waitForPort(
  port: number,
  child: Child,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.hasExited()) throw new Error(`${what} exited before listening:\n${child.output()}`);
    if (await canConnect(port)) return;
    if (Date.now() > deadline) throw new Error(`${what} not listening on ${port} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Resolves with the first stdout line the predicate maps to a value. */
export function waitForLine<T>(
  child: Child,
  pick: (line: string) => T | undefined,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${what}: not ready within ${timeoutMs} ms:\n${child.output()}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      pending += chunk.toString();
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const value = pick(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        if (value !== undefined) {
          done();
          resolve(value);
          return;
        }
      }
    };
    const onExit = (): void => {
      done();
      reject(new Error(`${what} exited before ready:\n${child.output()}`));
    };
    const done = (): void => {
      clearTimeout(timer);
      child.process.stdout?.off('data', onData);
      child.process.off('exit', onExit);
    };
    child.process.stdout?.on('data', onData);
    child.process.once('exit', onExit);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
