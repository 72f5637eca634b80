#!/usr/bin/env node
// Delivery throughput: messages/s from mailwharf's queue to Postfix's smtp-sink on
// loopback with 10 concurrent connections. Messages are queued first (the smarthost port
// is closed, so they are deferred), then smtp-sink starts and `queue flush` releases them:
// the figure times delivery alone, not intake. A benchmark: it prints figures.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const CLI = resolve(import.meta.dirname, '../dist/src/cli.js');
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const CLIENTS = 10;

const freePort = () =>
  new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });

const waitFor = async (predicate, what, timeoutMs = 120000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

function session(port) {
  return new Promise((ready) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = '';
    const waiting = [];
    socket.on('data', (chunk) => {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (line[3] !== '-') waiting.shift()?.(line);
      }
    });
    const reply = () => new Promise((r) => waiting.push(r));
    const command = (line) => (socket.write(line + '\r\n'), reply());
    reply()
      .then(() => command('EHLO bench.test'))
      .then(() =>
        ready({
          async send(body) {
            await command('MAIL FROM:<load@bench.test>');
            await command('RCPT TO:<sink@example.org>');
            await command('DATA');
            const line = await command(body + '\r\n.');
            if (!line.startsWith('250')) throw new Error(line);
          },
          close: () => socket.end('QUIT\r\n'),
        }),
      );
  });
}

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
      concurrency: { total: CLIENTS, perDestination: CLIENTS },
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
const port = await new Promise((done) => {
  let text = '';
  const onData = (chunk) => {
    text += chunk;
    const match = /"ports":\{"smtp":(\d+)\}/.exec(text);
    if (match) {
      server.stdout.removeListener('data', onData);
      server.stdout.resume();
      done(Number(match[1]));
    }
  };
  server.stdout.on('data', onData);
});
const body = 'Subject: delivery bench\r\n\r\n' + ('x'.repeat(76) + '\r\n').repeat(52);
const sessions = await Promise.all(Array.from({ length: CLIENTS }, () => session(port)));
let next = 0;
await Promise.all(
  sessions.map(async (s) => {
    while (next++ < MESSAGES) await s.send(body);
    s.close();
  }),
);
const stateFiles = async () =>
  (await readdir(join(root, 'spool', 'queue'))).filter((n) => n.endsWith('.state.json')).length;
const queued = async () =>
  (await readdir(join(root, 'spool', 'queue'))).filter((n) => /^[0-9A-Z]{17}\.eml$/.test(n)).length;
await waitFor(async () => (await stateFiles()) === MESSAGES, 'every message deferred once');

const sink = spawn('/usr/sbin/smtp-sink', ['-u', 'nobody', `127.0.0.1:${sinkPort}`, '256'], {
  stdio: 'ignore',
});
await new Promise((r) => setTimeout(r, 300));
const started = process.hrtime.bigint();
execFileSync(process.execPath, [CLI, 'queue', 'flush', '--config', configPath], { stdio: 'ignore' });
await waitFor(async () => (await queued()) === 0, 'an empty queue');
const seconds = Number(process.hrtime.bigint() - started) / 1e9;

sink.kill('SIGTERM');
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
await rm(root, { recursive: true, force: true });
const result = {
  messages: MESSAGES,
  connections: CLIENTS,
  size: body.length,
  seconds,
  perSecond: MESSAGES / seconds,
};
console.log(
  process.argv.includes('--json')
    ? JSON.stringify(result)
    : `delivered ${MESSAGES} x ${body.length} B to smtp-sink over ${CLIENTS} connections in ${seconds.toFixed(2)} s: ${(MESSAGES / seconds).toFixed(1)} msgs/s`,
);
