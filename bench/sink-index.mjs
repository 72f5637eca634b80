#!/usr/bin/env node
// The sink index at scale (issue #10): 100,000 stored messages of mixed shape. Prints the
// time to build the index from the spool (`mailwharf sink reindex`), start-to-ready after a
// restart, RSS idle, list and search latency (p50 of repeated requests), intake msgs/s with
// the index against the same server with HTTP off (smtp-source, 20 clients, same spool),
// and delete-all. A benchmark, not a test: it prints figures. Loopback only.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { message } from './sink-shapes.mjs';

const dist = resolve(process.env.BENCH_DIST ?? resolve(import.meta.dirname, '../dist'), 'src');
const CLI = join(dist, 'cli.js');
const { encodeTrailer } = await import(join(dist, 'spool/queue-file.js'));
const { newQueueId } = await import(join(dist, 'spool/queue-id.js'));
const COUNT = Number(process.env.BENCH_MESSAGES ?? 100_000);
const INTAKE = Number(process.env.BENCH_INTAKE ?? 10_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 20);

// The filled spool and its built index are kept in BENCH_CACHE (default: one directory per
// message count and index schema under the temporary directory) and copied for each run:
// filling 100,000 messages and building their index take minutes, a copy takes seconds.
// BENCH_FRESH=1 fills and builds again. BENCH_DIST runs another build (a before/after pair).
const { SCHEMA_VERSION } = await import(join(dist, 'sink/migrations.js'));
const cache =
  process.env.BENCH_CACHE ?? join(tmpdir(), `mailwharf-bench-sink-${COUNT}-v${SCHEMA_VERSION}-journal`);
const root = await mkdtemp(join(tmpdir(), 'mailwharf-bench-sink-'));
const spoolDir = join(root, 'spool');
const cachedSpool = join(cache, 'spool');
const built = join(cache, 'built');
if (process.env.BENCH_FRESH === '1') await rm(cache, { recursive: true, force: true });
const reuse = existsSync(built);
// Filling: small messages are journal records in the spool (see src/spool/journal.ts), as
// intake writes them; appended in groups of FILL_GROUP, one fdatasync each (a bench, not intake).
const { Journal } = await import(join(dist, 'spool/journal.js'));
const FILL_GROUP = 500;
await mkdir(join(cachedSpool, 'queue'), { recursive: true });
await mkdir(join(cachedSpool, 'tmp'), { recursive: true });
const fillStarted = Date.now();
if (!reuse) {
  const { journal } = await Journal.open(join(cachedSpool, 'journal'), {
    writer: true,
    quarantineDir: join(cachedSpool, 'quarantine'),
  });
  let group = [];
  for (let i = 0; i < COUNT; i++) {
    const id = newQueueId(Date.now() - (COUNT - i) * 10);
    const body = Buffer.from(message(i));
    const envelope = {
      version: 1,
      id,
      receivedAt: new Date(Date.now() - (COUNT - i) * 10).toISOString(),
      size: body.length,
      mailFrom: `sender${i % 97}@example.com`,
      rcptTo: [{ address: `user${i % 13}@example.org` }],
      smtputf8: false,
      client: { address: '127.0.0.1', port: 0, helo: 'bench' },
      listener: { name: 'smtp', role: 'relay', port: 0 },
      state: 'captured',
    };
    group.push(journal.append(id, [body, encodeTrailer(envelope)]));
    if (group.length === FILL_GROUP) {
      await Promise.all(group);
      group = [];
    }
  }
  await Promise.all(group);
  await journal.close();
}
const fillSeconds = (Date.now() - fillStarted) / 1000;

async function writeConfig(httpEnabled) {
  const path = join(root, `mailwharf-${httpEnabled ? 'http' : 'nohttp'}.yaml`);
  await writeFile(
    path,
    JSON.stringify({
      hostname: 'bench.test',
      acceptedDomains: ['bench.test'],
      mode: 'capture',
      spool: { dir: spoolDir },
      tls: { selfSignedDir: join(root, 'certs') },
      log: { level: 'info' },
      http: { enabled: httpEnabled, port: 0 },
      sink: { retention: { maxMessages: 0, maxTotalMiB: 0 } },
      policies: {
        relay: { auth: 'none', limits: { maxConnections: 500, maxConnectionsPerClient: 500 } },
      },
      listeners: [{ name: 'smtp', role: 'relay', port: 0, host: '127.0.0.1', tls: 'none', policy: 'relay' }],
    }),
  );
  return path;
}

/** The process's CPU time (user + system) so far: wall-clock figures mean little on a loaded machine. */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
}
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

async function start(config) {
  const started = process.hrtime.bigint();
  let readyCpuMs = 0;
  const child = spawn(process.execPath, [CLI, '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ports = await new Promise((done, fail) => {
    let text = '';
    const onData = (chunk) => {
      text += chunk;
      for (const line of text.split('\n')) {
        if (line.includes('"mailwharf ready"')) {
          readyCpuMs = cpuMs(child.pid);
          child.stdout.removeListener('data', onData);
          child.stdout.resume();
          done(JSON.parse(line).ports);
          return;
        }
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => fail(new Error(`server exited with ${code}`)));
  });
  return { child, ports, readyMs: Number(process.hrtime.bigint() - started) / 1e6, readyCpuMs };
}

async function stop(server) {
  server.child.kill('SIGTERM');
  await new Promise((done) => server.child.once('exit', done));
}

/** Median wall time of a request, and the server's CPU time per request. */
async function p50(server, path) {
  const port = server.ports.http;
  const cpuBefore = cpuMs(server.child.pid);
  const samples = [];
  for (let i = 0; i < REPEAT; i++) {
    const t0 = process.hrtime.bigint();
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { ms: samples[Math.floor(samples.length / 2)], cpu: (cpuMs(server.child.pid) - cpuBefore) / REPEAT };
}

/** Messages per second, and the server's CPU time per message. */
function intake(server) {
  const port = server.ports.smtp;
  const cpuBefore = cpuMs(server.child.pid);
  const started = Date.now();
  const result = spawnSync(
    'smtp-source',
    [
      '-s',
      '20',
      '-m',
      String(INTAKE),
      '-l',
      '2048',
      '-f',
      'load@bench.test',
      '-t',
      'sink@bench.test',
      `127.0.0.1:${port}`,
    ],
    { stdio: 'inherit' },
  );
  if (result.status !== 0) throw new Error('smtp-source failed');
  return {
    rate: INTAKE / ((Date.now() - started) / 1000),
    cpu: (cpuMs(server.child.pid) - cpuBefore) / INTAKE,
  };
}

const rssMiB = async (pid) =>
  Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

const withHttp = await writeConfig(true);
const withoutHttp = await writeConfig(false);
const rebuildStarted = Date.now();
if (!reuse) {
  // The index is built in the cache, next to the files it was built from.
  await writeFile(
    join(root, 'cache.yaml'),
    (await readFile(withHttp, 'utf8')).replace(spoolDir, cachedSpool),
  );
  const reindex = spawnSync(
    process.execPath,
    [CLI, 'sink', 'reindex', '--config', join(root, 'cache.yaml')],
    {
      encoding: 'utf8',
    },
  );
  if (reindex.status !== 0) throw new Error(reindex.stderr);
  await writeFile(built, '');
}
const rebuildSeconds = (Date.now() - rebuildStarted) / 1000;
// The run's copy: message files hard-linked (the server only adds and unlinks them); the
// journal and the index copied (the server appends to the journal's head and writes the index).
const copyStarted = Date.now();
execFileSync('cp', ['-al', cachedSpool, spoolDir]);
await rm(join(spoolDir, 'journal'), { recursive: true, force: true });
execFileSync('cp', ['-a', join(cachedSpool, 'journal'), join(spoolDir, 'journal')]);
// The index is two files: the rows and their full-text tables (src/sink/text-file.ts).
const indexFiles = ['sink.sqlite', 'sink-text.sqlite'].flatMap((file) =>
  ['', '-wal', '-shm'].map((s) => file + s),
);
for (const name of indexFiles) {
  if (!existsSync(join(cachedSpool, name))) continue;
  await rm(join(spoolDir, name));
  execFileSync('cp', [join(cachedSpool, name), join(spoolDir, name)]);
}
const copySeconds = (Date.now() - copyStarted) / 1000;
// A first start makes the self-signed certificate, so the restart below measures the index.
await stop(await start(withoutHttp));

// A restart on the built index.
let server = await start(withHttp);
const { readyMs, readyCpuMs } = server;
const figures = {
  'list, first page (50)': await p50(server, '/api/v1/messages'),
  'search subject:invoice': await p50(server, '/api/v1/search?query=subject:invoice'),
  'search from:sender5@': await p50(server, '/api/v1/search?query=from:sender5@'),
  'search "welcome message 4"': await p50(
    server,
    `/api/v1/search?query=${encodeURIComponent('"welcome message 4"')}`,
  ),
  'search bare word number': await p50(server, '/api/v1/search?query=ipsum%20invoice'),
};
const rssIdle = await rssMiB(server.child.pid);
const withIndex = intake(server);
await stop(server);

server = await start(withoutHttp);
const httpOff = intake(server);
await stop(server);

// The index learns the messages that came while HTTP was off, then everything goes.
server = await start(withHttp);
const total = (await (await fetch(`http://127.0.0.1:${server.ports.http}/api/v1/messages?limit=1`)).json())
  .total;
const deleteStarted = Date.now();
const deleteCpuBefore = cpuMs(server.child.pid);
const deleted = await fetch(`http://127.0.0.1:${server.ports.http}/api/v1/messages`, { method: 'DELETE' });
if (deleted.status !== 200) throw new Error(`delete all: ${deleted.status}`);
const deleteSeconds = (Date.now() - deleteStarted) / 1000;
const deleteCpu = cpuMs(server.child.pid) - deleteCpuBefore;
await stop(server);
await rm(root, { recursive: true, force: true });

const row = (name, value, cpu, target) =>
  console.log(`| ${name.padEnd(44)} | ${value.padStart(12)} | ${cpu.padStart(12)} | ${target.padEnd(10)} |`);
const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
console.log(
  reuse
    ? `\nsink index, ${COUNT} stored messages of four shapes (reused from ${cache}, copied in ${copySeconds.toFixed(1)} s); load ${load}\n`
    : `\nsink index, ${COUNT} stored messages of four shapes (filled in ${fillSeconds.toFixed(0)} s); load ${load}\n`,
);
console.log(
  `| ${'figure'.padEnd(44)} | ${'measured'.padStart(12)} | ${'server CPU'.padStart(12)} | ${'target'.padEnd(10)} |`,
);
console.log(`|${'-'.repeat(46)}|${'-'.repeat(14)}|${'-'.repeat(14)}|${'-'.repeat(12)}|`);
if (!reuse) row('index built from the spool (sink reindex)', `${rebuildSeconds.toFixed(1)} s`, '', '-');
row('start to ready after a restart', `${readyMs.toFixed(0)} ms`, `${readyCpuMs.toFixed(0)} ms`, '< 1 s');
row('RSS idle after the searches', `${rssIdle.toFixed(0)} MiB`, '', '< 150 MiB');
for (const [name, r] of Object.entries(figures))
  row(
    `${name} p50`,
    `${r.ms.toFixed(1)} ms`,
    `${r.cpu.toFixed(1)} ms`,
    name.startsWith('list') ? '< 20 ms' : '< 50 ms',
  );
row(
  `intake with the index (smtp-source, 20 clients)`,
  `${withIndex.rate.toFixed(0)} msg/s`,
  `${withIndex.cpu.toFixed(2)} ms/msg`,
  '-',
);
row(
  `intake with HTTP off (same spool)`,
  `${httpOff.rate.toFixed(0)} msg/s`,
  `${httpOff.cpu.toFixed(2)} ms/msg`,
  '-',
);
row(
  'intake with index / HTTP off',
  `${((withIndex.rate / httpOff.rate) * 100).toFixed(0)} %`,
  `${((httpOff.cpu / withIndex.cpu) * 100).toFixed(0)} %`,
  '>= 70 %',
);
row(`delete all (${total} messages)`, `${deleteSeconds.toFixed(2)} s`, `${deleteCpu.toFixed(0)} ms`, '< 3 s');
