#!/usr/bin/env node
// Sink figures: list and search latency (median of repeated requests) with 10,000 stored
// messages, the time to build the index from a cold spool, and the server's peak RSS.
// A benchmark, not a test: it prints figures. Loopback only.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const dist = resolve(import.meta.dirname, '../dist/src');
const { Spool } = await import(join(dist, 'spool/spool.js'));
const { enqueueLocal } = await import(join(dist, 'delivery/enqueue.js'));
const COUNT = Number(process.env.BENCH_MESSAGES ?? 10000);
const REPEAT = 50;

const root = await mkdtemp(join(tmpdir(), 'mailwharf-bench-sink-'));
const { spool } = await Spool.open(join(root, 'spool'));
const words = ['invoice', 'welcome', 'password', 'report', 'meeting', 'shipping', 'newsletter', 'alert'];
for (let i = 0; i < COUNT; i++) {
  const word = words[i % words.length];
  const message =
    `From: Sender ${i % 97} <sender${i % 97}@example.com>\r\nTo: user${i % 13}@example.org\r\n` +
    `Subject: ${word} number ${i}\r\nMessage-ID: <m${i}@bench>\r\nDate: ${new Date(Date.now() - i * 1000).toUTCString()}\r\n` +
    `Content-Type: text/plain; charset=utf-8\r\n\r\n` +
    `Hello user, this is ${word} message ${i}.\r\n${'Lorem ipsum dolor sit amet. '.repeat(40)}\r\n`;
  await enqueueLocal(spool, message, {
    mailFrom: 'bench@example.com',
    rcptTo: [`user${i % 13}@example.org`],
    hostname: 'bench',
    listener: 'smtp',
    state: 'captured',
  });
}
// The server started below takes the spool's lock.
await spool.close();

const configPath = join(root, 'mailwharf.yaml');
await writeFile(
  configPath,
  JSON.stringify({
    hostname: 'bench.test',
    mode: 'capture',
    spool: { dir: join(root, 'spool') },
    tls: { selfSignedDir: join(root, 'certs') },
    log: { level: 'info' },
    http: { enabled: true, port: 0 },
    sink: { retention: { maxMessages: 0, maxTotalMiB: 0 } },
    policies: { relay: { auth: 'none' } },
    listeners: [{ name: 'smtp', role: 'relay', port: 0, host: '127.0.0.1', tls: 'none', policy: 'relay' }],
  }),
);
const started = Date.now();
const child = spawn(process.execPath, [join(dist, 'cli.js'), '--config', configPath], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const port = await new Promise((done) => {
  let text = '';
  const onData = (chunk) => {
    text += chunk;
    const match = /"http":(\d+)/.exec(text);
    if (match) {
      child.stdout.removeListener('data', onData);
      child.stdout.resume();
      done(Number(match[1]));
    }
  };
  child.stdout.on('data', onData);
});
const coldStartSeconds = (Date.now() - started) / 1000;

async function timed(path) {
  const samples = [];
  for (let i = 0; i < REPEAT; i++) {
    const t0 = process.hrtime.bigint();
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    await response.arrayBuffer();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], min: samples[0], max: samples.at(-1) };
}

const rows = {
  'list (50 newest)': await timed('/api/v1/messages?limit=50'),
  'search subject:invoice': await timed('/api/v1/search?query=subject:invoice'),
  'search bare word "message 9999"': await timed('/api/v1/search?query=%22message%209999%22'),
  'search from: + negation': await timed('/api/v1/search?query=from:sender5%20-subject:alert'),
};
const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
const peakRss = Number(/VmHWM:\s+(\d+)/.exec(status)[1]) / 1024;
// A second start reads the cached summaries instead of parsing.
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
const warmStarted = Date.now();
const again = spawn(process.execPath, [join(dist, 'cli.js'), '--config', configPath], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
await new Promise((done) => {
  let t = '';
  again.stdout.on('data', (c) => {
    t += c;
    if (t.includes('"http":')) done();
  });
});
const warmStartSeconds = (Date.now() - warmStarted) / 1000;
again.kill('SIGTERM');
await new Promise((r) => again.once('exit', r));
await rm(root, { recursive: true, force: true });

console.log(
  `messages: ${COUNT}; cold start (parse all): ${coldStartSeconds.toFixed(1)} s; warm start (cached index): ${warmStartSeconds.toFixed(1)} s; peak RSS: ${peakRss.toFixed(0)} MiB`,
);
for (const [name, r] of Object.entries(rows))
  console.log(
    `${name.padEnd(34)} median ${r.median.toFixed(1)} ms (min ${r.min.toFixed(1)}, max ${r.max.toFixed(1)}) over ${REPEAT}`,
  );
