#!/usr/bin/env node
// Delivery throughput: messages/s from mailwharf's queue to Postfix's smtp-sink on loopback
// over 10 connections (bench/relay-load.mjs). Messages are queued first (the smarthost port
// is closed, so they are deferred), then smtp-sink starts and `queue flush` releases them:
// the figure times delivery alone, not intake. A benchmark: it prints figures.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  CONNECTIONS,
  MESSAGES,
  cpuSeconds,
  freePort,
  queueLoad,
  report,
  startSink,
  waitFor,
} from './relay-load.mjs';

const CLI = resolve(import.meta.dirname, '../dist/src/cli.js');

const root = await mkdtemp(join(tmpdir(), 'mailwharf-bench-delivery-'));
const sinkPort = await freePort();
const configPath = join(root, 'mailwharf.yaml');
await writeFile(
  configPath,
  JSON.stringify({
    hostname: 'bench.test',
    mode: 'relay',
    spool: { dir: join(root, 'spool') },
    tls: { selfSignedDir: join(root, 'certs') },
    log: { level: 'info' },
    delivery: {
      route: { type: 'smarthost', host: '127.0.0.1', port: sinkPort, tls: 'none' },
      concurrency: { total: CONNECTIONS, perDestination: CONNECTIONS },
      retry: { firstRetrySeconds: 3600, maxRetrySeconds: 3600 },
      connectTimeoutSeconds: 2,
    },
    policies: {
      relay: {
        auth: 'none',
        relay: { trustedNetworks: ['127.0.0.0/8'] },
        limits: { maxConnectionsPerClient: 100 },
      },
    },
    listeners: [{ name: 'smtp', role: 'relay', port: 0, host: '127.0.0.1', tls: 'none', policy: 'relay' }],
  }),
);
const server = spawn(
  process.execPath,
  [
    ...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_PROFILE] : []),
    CLI,
    '--config',
    configPath,
  ],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
// A failed run (a wait timing out) must not leave the server behind.
process.on('exit', () => {
  if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
});
// Delivered messages, counted from the server's own log ("removed", one per message gone):
// the bench must not poll the spool, since a reader opens the journal and checks every record
// (tens of milliseconds of CPU per look at 2,000 records, on the same cores as the server).
let removed = 0;
let logTail = '';
const countRemoved = (chunk) => {
  const lines = (logTail + chunk).split('\n');
  logTail = lines.pop() ?? '';
  for (const line of lines) if (line.includes('"msg":"removed"')) removed++;
};
const port = await new Promise((done) => {
  let text = '';
  const onData = (chunk) => {
    text += chunk;
    const match = /"ports":\{"smtp":(\d+)\}/.exec(text);
    if (match) {
      server.stdout.removeListener('data', onData);
      server.stdout.on('data', countRemoved);
      done(Number(match[1]));
    }
  };
  server.stdout.on('data', onData);
});
await queueLoad(port);
const stateFiles = async () =>
  (await readdir(join(root, 'spool', 'queue'))).filter((n) => n.endsWith('.state.json')).length;
const { Spool } = await import(resolve(import.meta.dirname, '../dist/src/spool/spool.js'));
// Journal and queue/ alike; a fresh reader each time (one reads the journal once).
const queued = () => Spool.inspect(join(root, 'spool')).count();
await waitFor(async () => (await stateFiles()) === MESSAGES, 'every message deferred once');

const sink = await startSink(sinkPort);
// BENCH_STRACE=FILE: count the server's system calls (every thread) during delivery only.
const strace = process.env.BENCH_STRACE
  ? await traceSyscalls(server.pid, process.env.BENCH_STRACE)
  : undefined;
const cpuBefore = cpuSeconds(server.pid);
const benchCpuBefore = process.cpuUsage();
const started = process.hrtime.bigint();
execFileSync(process.execPath, [CLI, 'queue', 'flush', '--config', configPath], { stdio: 'ignore' });
await waitFor(() => removed === MESSAGES, 'every message delivered and removed');
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const cpu = cpuSeconds(server.pid) - cpuBefore;
const benchCpu = process.cpuUsage(benchCpuBefore);
// The count above is the log's; the spool, read once now, must agree.
if ((await queued()) !== 0) throw new Error('messages left in the spool after every removal was logged');
if (strace) {
  strace.kill('SIGINT');
  await new Promise((r) => strace.once('exit', r));
}

sink.kill('SIGTERM');
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
await rm(root, { recursive: true, force: true });
if (strace) console.error(`strace -c -f summary in ${process.env.BENCH_STRACE}`);
report('mailwharf', seconds, {
  cpuSeconds: cpu,
  cpuMsPerMessage: (cpu * 1000) / MESSAGES,
  benchCpuSeconds: (benchCpu.user + benchCpu.system) / 1e6,
});

/** strace -c -f attached to pid, writing its summary to file when interrupted; resolves once attached. */
async function traceSyscalls(pid, file) {
  const child = spawn('strace', ['-c', '-f', '-o', file, '-p', String(pid)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise((attached, failed) => {
    let text = '';
    child.stderr.on('data', (chunk) => {
      text += chunk;
      if (text.includes('attached')) attached();
    });
    child.once('exit', () => failed(new Error(`strace exited: ${text}`)));
  });
  return child;
}
