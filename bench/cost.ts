#!/usr/bin/env node
/**
 * What one message costs the mailwharf server process, for profile-driven work on a loaded
 * machine where messages per second mean little: CPU (user and system, from /proc/PID/stat)
 * per message, and with --strace the system calls per message (`strace -c -f`, a separate
 * run: tracing slows the process and would count in its CPU).
 *
 *   node dist/bench/cost.js [--cells conn-1,reuse-10] [--messages 1000] [--reps 3]
 *                           [--strace] [--profile DIR] [--perf DIR] [--cli dist/src/cli.js]
 *
 * Each run starts mailwharf fresh, sends the bench's warm-up (bench/cells.ts), then the cell's load with
 * `--messages` messages. --profile DIR adds a `node --cpu-prof` run per cell (its CPU is
 * not reported); `node dist/bench/profile.js FILE --skip-ms N` prints its top. --perf DIR adds
 * a `perf record` run (on-CPU samples, kernel included: `perf report -i FILE --no-children`).
 * --cli runs another build (a copy of dist/ kept inside the worktree, so its imports resolve),
 * to compare before and after in the same conditions.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CELLS, warmUp, type Cell } from './cells.js';
import { drive, type Load } from './drive.js';
import { mailwharfPeer } from './peers/mailwharf.js';

const { values } = parseArgs({
  options: {
    cells: { type: 'string', default: 'conn-1,reuse-10' },
    messages: { type: 'string', default: '1000' },
    reps: { type: 'string', default: '3' },
    strace: { type: 'boolean', default: false },
    profile: { type: 'string' },
    perf: { type: 'string' },
    cli: { type: 'string' },
  },
});

const TICKS_PER_SECOND = 100;

/** utime and stime of a process (all its threads), in ms. */
function cpuMs(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = (index: number): number => (Number(fields[index]) * 1000) / TICKS_PER_SECOND;
  return { user: ticks(11), sys: ticks(12) };
}

interface Run {
  readonly userMs: number;
  readonly sysMs: number;
  readonly sent: number;
  readonly syscalls?: string;
}

interface How {
  readonly strace?: boolean;
  readonly profileDir?: string;
  /** perf record's output file: on-CPU samples, kernel included, JS named by --perf-basic-prof. */
  readonly perfData?: string;
}

function tracerArgs(how: How, pid: number, out: string): [string, string[]] | undefined {
  if (how.strace === true) return ['strace', ['-c', '-f', '-o', out, '-p', String(pid)]];
  if (how.perfData !== undefined)
    return ['perf', ['record', '-e', 'cpu-clock', '-F', '4000', '-g', '-o', how.perfData, '-p', String(pid)]];
  return undefined;
}

async function runOnce(cell: Cell, load: Load, how: How): Promise<Run> {
  const nodeArgs = [
    ...(how.profileDir ? ['--cpu-prof', '--cpu-prof-dir', how.profileDir] : []),
    ...(how.perfData ? ['--perf-basic-prof'] : []),
  ];
  const peer = mailwharfPeer({ nodeArgs, ...(values.cli === undefined ? {} : { cli: resolve(values.cli) }) });
  const running = await peer.start();
  try {
    await warmUp('mailwharf', running.port, cell);
    let tracer: ReturnType<typeof spawn> | undefined;
    const traceDir = await mkdtemp(join(tmpdir(), 'mailwharf-trace-'));
    const traced = tracerArgs(how, running.pid, join(traceDir, 'out'));
    if (traced) {
      tracer = spawn(traced[0], traced[1], { stdio: ['ignore', 'ignore', 'pipe'] });
      // strace says so on stderr once it is attached to every thread; perf says nothing.
      await new Promise<void>((ready, fail) => {
        if (traced[0] === 'perf') setTimeout(ready, 1000);
        tracer?.stderr?.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('attached')) ready();
        });
        tracer?.once('exit', () => fail(new Error(`${traced[0]} exited before attaching`)));
      });
    }
    const before = cpuMs(running.pid);
    const result = await drive(running.port, load);
    const after = cpuMs(running.pid);
    let syscalls: string | undefined;
    if (tracer) {
      const exited = new Promise((done) => tracer.once('exit', done));
      tracer.kill('SIGINT');
      await exited;
      if (how.strace === true) syscalls = await readFile(join(traceDir, 'out'), 'utf8');
    }
    await rm(traceDir, { recursive: true, force: true });
    if (result.sent !== load.messages)
      throw new Error(`sent ${result.sent} of ${load.messages}: ${result.errors}`);
    return {
      userMs: after.user - before.user,
      sysMs: after.sys - before.sys,
      sent: result.sent,
      ...(syscalls === undefined ? {} : { syscalls }),
    };
  } finally {
    await running.stop();
  }
}

/** strace -c's table as "calls per message" rows, most frequent first. */
function perMessage(table: string, messages: number): string {
  const rows: [string, number, number][] = [];
  for (const line of table.split('\n')) {
    const cols = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors,] syscall
    if (cols.length < 5 || !/^\d/.test(cols[0] ?? '') || cols.at(-1) === 'total') continue;
    const calls = Number(cols[3]);
    const seconds = Number(cols[1]);
    rows.push([cols.at(-1) ?? '?', calls / messages, (seconds * 1e6) / messages]);
  }
  rows.sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((sum, row) => sum + row[1], 0);
  return [
    `    total ${total.toFixed(1)} syscalls/msg`,
    ...rows
      .slice(0, 12)
      .map(
        ([name, calls, us]) =>
          `    ${calls.toFixed(2).padStart(7)}  ${name.padEnd(16)} ${us.toFixed(0).padStart(5)} µs/msg traced`,
      ),
  ].join('\n');
}

const messages = Number(values.messages);
const reps = Number(values.reps);
for (const id of values.cells.split(',')) {
  const cell = CELLS.find((c) => c.id === id);
  if (!cell) throw new Error(`unknown cell ${id}`);
  const load = { ...cell.load, messages };
  const runs: Run[] = [];
  for (let i = 0; i < reps; i++) runs.push(await runOnce(cell, load, {}));
  const median = (pick: (run: Run) => number): number =>
    runs.map(pick).sort((a, b) => a - b)[Math.floor(runs.length / 2)] ?? 0;
  const user = median((r) => r.userMs) / messages;
  const sys = median((r) => r.sysMs) / messages;
  process.stdout.write(
    `${id} (${messages} msgs): CPU ${(user + sys).toFixed(3)} ms/msg = user ${user.toFixed(3)} + sys ${sys.toFixed(3)} ` +
      `(median of ${reps}; runs ${runs.map((r) => ((r.userMs + r.sysMs) / messages).toFixed(3)).join(' ')})\n`,
  );
  if (values.strace) {
    const traced = await runOnce(cell, load, { strace: true });
    process.stdout.write(`  syscalls (strace -c -f):\n${perMessage(traced.syscalls ?? '', messages)}\n`);
  }
  if (values.profile !== undefined) {
    const dir = resolve(values.profile, id);
    await runOnce(cell, load, { profileDir: dir });
    process.stdout.write(`  profile in ${dir}\n`);
  }
  if (values.perf !== undefined) {
    const file = resolve(values.perf, `${id}.perf.data`);
    await runOnce(cell, load, { perfData: file });
    process.stdout.write(`  perf record in ${file}\n`);
  }
}
