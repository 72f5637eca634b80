#!/usr/bin/env node
// Figures for the foundation: messages/s with 10 concurrent clients (reused connections,
// 4 KiB), and peak RSS of the server while 20 clients each send a 10 MiB message.
// A benchmark, not a test: it prints figures. Loopback only, bounded counts.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const CLI = resolve(import.meta.dirname, '../dist/src/cli.js');

async function startServer(root) {
  const config = join(root, 'mailwharf.yaml');
  await writeFile(
    config,
    JSON.stringify({
      hostname: 'bench.test',
      acceptedDomains: ['bench.test'],
      mode: 'capture',
      spool: { dir: join(root, 'spool') },
      tls: { selfSignedDir: join(root, 'certs') },
      log: { level: 'info' },
      policies: {
        relay: {
          auth: 'none',
          limits: { maxMessageSize: 64 * 1024 * 1024, maxConnections: 500, maxConnectionsPerClient: 500 },
        },
      },
      listeners: [{ name: 'smtp', role: 'relay', port: 0, host: '127.0.0.1', tls: 'none', policy: 'relay' }],
    }),
  );
  const child = spawn(process.execPath, [CLI, '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolvePort, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error('server not ready')), 15000);
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      for (const line of buffer.split('\n')) {
        if (line.includes('"mailwharf ready"')) {
          clearTimeout(timer);
          resolvePort(JSON.parse(line).ports.smtp);
        }
      }
    });
  });
  child.stdout.resume();
  return { child, port };
}

function session(port) {
  return new Promise((resolveSession, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = '';
    const waiting = [];
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      let end;
      while ((end = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (line[3] !== '-') waiting.shift()?.(line);
      }
    });
    socket.on('error', reject);
    const reply = () => new Promise((r) => waiting.push(r));
    const command = (line) => {
      socket.write(line + '\r\n');
      return reply();
    };
    reply()
      .then(() => command('EHLO bench.test'))
      .then(() =>
        resolveSession({
          async send(body) {
            await command('MAIL FROM:<load@bench.test>');
            await command('RCPT TO:<sink@bench.test>');
            await command('DATA');
            socket.write(body);
            const line = await new Promise((r) => {
              waiting.push(r);
              socket.write('\r\n.\r\n');
            });
            if (!line.startsWith('250')) throw new Error(line);
          },
          close: () => socket.end('QUIT\r\n'),
        }),
      );
  });
}

async function peakRss(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

function body(size) {
  const line = 'x'.repeat(76) + '\r\n';
  return 'Subject: bench\r\n\r\n' + line.repeat(Math.ceil(size / line.length)).slice(0, size);
}

async function throughput(clients, total, size) {
  const root = await mkdtemp(join(tmpdir(), 'mailwharf-bench-'));
  const { child, port } = await startServer(root);
  const sessions = await Promise.all(Array.from({ length: clients }, () => session(port)));
  const message = body(size);
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    sessions.map(async (s) => {
      while (next++ < total) await s.send(message);
      s.close();
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rss = await peakRss(child.pid);
  const { Spool } = await import(resolve(import.meta.dirname, '../dist/src/spool/spool.js'));
  const stored = await Spool.inspect(join(root, 'spool')).count();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await rm(root, { recursive: true, force: true });
  return { clients, total, size, seconds, perSecond: total / seconds, peakRssMiB: rss, stored };
}

const rows = [];
for (let run = 0; run < 3; run++) rows.push(await throughput(10, 2000, 4096));
rows.push(await throughput(20, 20, 10 * 1024 * 1024));
const json = process.argv.includes('--json');
if (json) console.log(JSON.stringify(rows, null, 2));
else {
  console.log('clients  messages  size      msgs/s   peak RSS MiB  stored');
  for (const r of rows) {
    console.log(
      `${String(r.clients).padEnd(9)}${String(r.total).padEnd(10)}${String(r.size).padEnd(10)}${r.perSecond.toFixed(1).padStart(7)}   ${r.peakRssMiB.toFixed(1).padStart(12)}  ${r.stored}`,
    );
  }
}
