/** Postfix's smtp-source as the load generator: one run, timed from spawn to exit. */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

export const SMTP_SOURCE = '/usr/sbin/smtp-source';
export const SENDER = 'bench@bench.test';
export const RECIPIENT = 'rcpt@bench.test';

export interface Load {
  readonly messages: number;
  /** Concurrent SMTP sessions (smtp-source -s). */
  readonly sessions: number;
  /** Payload bytes per message (smtp-source -l). */
  readonly bytes: number;
  /** Keep each connection for the next message (smtp-source -d). */
  readonly reuse: boolean;
}

export interface DriveResult {
  readonly seconds: number;
  /** Messages whose DATA completed, from smtp-source's -c counter. */
  readonly sent: number;
  readonly exitCode: number | null;
  /** smtp-source's diagnostics, if any. */
  readonly errors: string;
}

export function smtpSourceArgs(port: number, load: Load): string[] {
  return [
    '-c',
    ...(load.reuse ? ['-d'] : []),
    ['-m', String(load.messages)],
    ['-s', String(load.sessions)],
    ['-l', String(load.bytes)],
    ['-f', SENDER],
    ['-t', RECIPIENT],
    ['-M', 'bench.test'],
    `127.0.0.1:${port}`,
  ].flat();
}

export function drive(port: number, load: Load, timeoutMs = 300_000): Promise<DriveResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(SMTP_SOURCE, smtpSourceArgs(port, load), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout = (stdout + chunk.toString()).slice(-256);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4096);
    });
    const timer = setTimeout(() => {
      stderr += `\nbench: smtp-source killed after ${timeoutMs} ms`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    let ended = 0;
    child.once('exit', () => {
      ended = performance.now();
    });
    child.once('close', (exitCode) => {
      const seconds = ((ended || performance.now()) - started) / 1000;
      clearTimeout(timer);
      const counts = stdout.split(/[\r\n]+/).filter((s) => /^\d+$/.test(s));
      resolve({ seconds, sent: Number(counts.at(-1) ?? 0), exitCode, errors: stderr.trim() });
    });
  });
}
