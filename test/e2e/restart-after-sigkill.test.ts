import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../src/spool/lock.js';
import { CLI, writeProcessConfig } from '../helpers/process.js';
import { SmtpProbe } from '../helpers/smtp-probe.js';

/**
 * The supervisor: a POSIX shell that starts the server in the background, waits for a line on
 * stdin, then starts it again in its own place. dash reaps children only when it waits for
 * one, and `read` is not waiting: the killed server stays a zombie of this shell (and of the
 * restarted server, which inherits the shell's pid) while the restart looks at the spool lock.
 */
const SUPERVISOR = [
  '"$NODE" "$CLI" --config "$CONFIG" &',
  'echo "pid $!"',
  'read line',
  'exec "$NODE" "$CLI" --config "$CONFIG"',
].join('\n');

async function procState(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${String(pid)}/stat`, 'latin1');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  } catch {
    return undefined;
  }
}

describe('restart right after SIGKILL, from a shell supervisor', () => {
  const roots: string[] = [];
  afterAll(async () => {
    await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  });

  it('takes over the lock of the killed, not yet reaped (zombie) server and serves', async () => {
    const { root, path } = await writeProcessConfig();
    roots.push(root);
    const shell = spawn('/bin/sh', ['-c', SUPERVISOR], {
      env: { ...process.env, NODE: process.execPath, CLI, CONFIG: path },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    shell.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => shell.once('exit', (code) => resolve(code)));
    const events: { pid?: number; ready: Record<string, number>[] } = { ready: [] };
    let wake = (): void => undefined;
    let pending = '';
    shell.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        const pid = /^pid (\d+)$/.exec(line);
        if (pid) events.pid = Number(pid[1]);
        else if (line.startsWith('{')) {
          const entry = JSON.parse(line) as { msg?: string; ports?: Record<string, number> };
          if (entry.msg === 'mailwharf ready' && entry.ports) events.ready.push(entry.ports);
        }
      }
      wake();
    });
    void exited.then(() => wake());
    const until = async (
      what: string,
      done: () => boolean | Promise<boolean>,
      timeoutMs = 20_000,
    ): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      while (!(await done())) {
        if (shell.exitCode !== null)
          throw new Error(`${what}: supervisor exited (${String(shell.exitCode)}): ${stderr}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`${what}: not within ${String(timeoutMs)} ms; stderr: ${stderr}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 100));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    };

    try {
      await until('first start', () => events.pid !== undefined && events.ready.length === 1);
      const first = events.pid ?? 0;
      process.kill(first, 'SIGKILL');
      await until('the killed server to become a zombie', async () => (await procState(first)) === 'Z');
      // The case the issue is about: kill(pid, 0) still succeeds on it.
      expect(() => process.kill(first, 0)).not.toThrow();
      expect(isProcessAlive(first)).toBe(false);

      shell.stdin.write('restart\n');
      await until('restart', () => events.ready.length === 2);
      const port = events.ready[1]?.smtp;
      if (port === undefined) throw new Error('no smtp port after restart');
      const probe = await SmtpProbe.connect(port);
      expect((await probe.read()).code).toBe(220);
      probe.close();
    } finally {
      if (shell.exitCode === null) {
        shell.kill('SIGTERM');
        await exited;
      }
    }
  });
});
