/**
 * Ctrl-C or `kill -TERM -PGID` on `npm run dev` reaches the server twice: once from the
 * process group and once from npm, which forwards SIGINT and SIGTERM to its child. The copy is
 * the same request: the server stops as usual, removes its temporary dev spool and exits 0. A
 * second signal after the window still means "exit now", as before. Each test sets the window
 * (shutdownRepeatWindowSeconds) far from the moment its second signal comes, so a loaded
 * machine cannot move a signal across it; where the edge lies is the pure function's table.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { CLI, startServerProcess, writeProcessConfig } from '../helpers/process.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/**
 * A parent that forwards SIGINT and SIGTERM to its child, as npm's run-script does. It forwards
 * once the child has logged that it is shutting down: on a busy machine npm's copy comes that
 * late, and copies that arrive together are merged by the kernel into one and show nothing.
 */
const FORWARDER = `
const { spawn } = require('node:child_process');
const child = spawn(process.execPath, process.argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
let shuttingDown = false;
const waiting = [];
const forward = (signal) => (shuttingDown ? child.kill(signal) : waiting.push(signal));
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
let pending = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  pending += chunk.toString();
  if (!shuttingDown && pending.includes('"msg":"shutting down"')) {
    shuttingDown = true;
    for (const signal of waiting.splice(0)) child.kill(signal);
  }
});
child.on('exit', (code, signal) => {
  process.stdout.write(JSON.stringify({ forwarder: 'child exited', code, signal }) + '\\n');
  process.exit(0);
});
`;

it('SIGINT to the process group of a forwarding parent: one stop, the temporary spool removed, exit 0', async () => {
  const root = await mkdtemp(join(tmpdir(), 'mailwharf-signals-tmp-'));
  const state = await mkdtemp(join(tmpdir(), 'mailwharf-signals-state-'));
  dirs.push(root, state);
  const parent = spawn(process.execPath, ['-e', FORWARDER, CLI, '--dev', '--no-ui', '--smtp-port', '0'], {
    // Its own process group, as a terminal gives `npm run dev`.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TMPDIR: root,
      XDG_STATE_HOME: state,
      MAILWHARF_SUBMISSION_PORT: '0',
      MAILWHARF_SUBMISSIONS_PORT: '0',
      MAILWHARF_ALT_SUBMISSION_PORT: '0',
      // However late the forwarder's copy comes on a busy machine, it is inside the window.
      MAILWHARF_SHUTDOWN_REPEAT_WINDOW: '600',
    },
  });
  const pid = parent.pid ?? 0;
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  parent.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let ready: () => void = () => undefined;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  let pending = '';
  parent.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const entry = JSON.parse(pending.slice(0, newline)) as Record<string, unknown>;
      pending = pending.slice(newline + 1);
      logs.push(entry);
      if (entry.msg === 'mailwharf ready') ready();
    }
  });
  const exited = once(parent, 'exit');
  try {
    await Promise.race([
      isReady,
      exited.then(() => {
        throw new Error(`exited before ready: ${stderr}`);
      }),
    ]);
    const spool = String(logs.find((entry) => entry.msg === 'mailwharf ready')?.spool);
    expect(spool.startsWith(root)).toBe(true);
    expect(existsSync(spool)).toBe(true);

    process.kill(-pid, 'SIGINT');
    await exited;

    const messages = logs.map((entry) => entry.msg);
    // Both copies arrived: the group's and the parent's.
    expect(messages).toContain('shutting down');
    expect(messages).toContain('same signal again (forwarded by a parent): already shutting down');
    expect(messages).not.toContain('second signal: exiting now');
    expect(logs.find((entry) => entry.forwarder === 'child exited')).toMatchObject({ code: 0, signal: null });
    expect(existsSync(dirname(spool))).toBe(false);
  } finally {
    if (parent.exitCode === null) process.kill(-pid, 'SIGKILL');
  }
}, 60_000);

it('a second signal after the window still exits at once, without waiting for the stop', async () => {
  const { root, path } = await writeProcessConfig({
    http: { enabled: true, host: '127.0.0.1', port: 0 },
    shutdownGraceSeconds: 60,
    // No window: the second signal, sent once the stop is seen under way, is past it.
    shutdownRepeatWindowSeconds: 0,
  });
  dirs.push(root);
  const server = await startServerProcess(path);
  try {
    // An HTTP request that never finishes its headers holds the stop for the grace period.
    const socket = connect(server.ports.http ?? 0, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    socket.on('error', () => undefined);

    server.child.kill('SIGTERM');
    await expect
      .poll(() => server.logs.map((entry) => entry.msg), { timeout: 20_000 })
      .toContain('stopping: no new connections, waiting for sessions to finish');
    // A person asking again, after the window in which a repeat is a forwarded copy.
    server.child.kill('SIGTERM');

    expect(await server.exited()).toEqual({ code: 1, signal: null });
    expect(server.logs.map((entry) => entry.msg)).toContain('second signal: exiting now');
    socket.destroy();
  } finally {
    server.child.kill('SIGKILL');
  }
}, 60_000);
