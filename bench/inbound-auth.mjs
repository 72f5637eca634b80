#!/usr/bin/env node
// Inbound authentication (policy inboundAuth) on a 25 MiB message: the server's CPU time for
// the message, and its peak live memory (heapUsed + arrayBuffers above the idle baseline,
// read after a forced GC every 10 ms, in a second pass so the GCs do not count as CPU), with
// the policy on and off, side by side on one server. The client is a child
// process (its copy of the message is not counted); DNS is a dnsmasq on loopback holding the
// SPF, DKIM and DMARC records. A benchmark, not a test: it prints figures. Loopback only.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const dist = resolve(import.meta.dirname, '../dist/src');
const { validateConfig } = await import(join(dist, 'config/load.js'));
const { createServer } = await import(join(dist, 'server.js'));
const { pino } = await import('pino');
// Just under maxMessageSize (25 MiB), which counts our headers too.
const SIZE = Number(process.env.BENCH_BYTES ?? 25 * 1024 * 1024 - 100 * 1024);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/** A free loopback port (taken over TCP and released) for dnsmasq, which cannot bind port 0 and say which it got. */
function freePort() {
  return new Promise((done) => {
    const probe = createTcpServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
const key = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const dnsPort = await freePort();
const dnsmasq = spawn(
  '/usr/sbin/dnsmasq',
  [
    '--keep-in-foreground',
    `--port=${dnsPort}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    '--no-resolv',
    '--no-hosts',
    '--conf-file=/dev/null',
    '--pid-file=',
    '--txt-record=good.example,v=spf1 ip4:127.0.0.20 -all',
    `--txt-record=sel1._domainkey.good.example,v=DKIM1; k=rsa; p=${key}`,
    '--txt-record=_dmarc.good.example,v=DMARC1; p=reject',
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
await new Promise((done) => setTimeout(done, 500));

const root = await mkdtemp(join(tmpdir(), 'mailwharf-bench-auth-'));
const limits = { maxMessageSize: 26214400 };
const config = validateConfig(
  {
    hostname: 'mx.bench.test',
    acceptedDomains: ['bench.test'],
    mode: 'relay',
    delivery: {
      route: { type: 'smarthost', host: '127.0.0.1', port: 9, tls: 'none' },
      dns: { servers: [`127.0.0.1:${dnsPort}`] },
    },
    spool: { dir: join(root, 'spool') },
    tls: { selfSignedDir: join(root, 'certs') },
    log: { level: 'silent' },
    policies: {
      checked: { auth: 'none', inboundAuth: { dmarc: 'reject' }, limits },
      plain: { auth: 'none', limits },
    },
    listeners: [
      { name: 'checked', role: 'relay', port: 0, host: '127.0.0.1', tls: 'none', policy: 'checked' },
      { name: 'plain', role: 'relay', port: 0, host: '127.0.0.1', tls: 'none', policy: 'plain' },
    ],
  },
  'bench config',
);
const server = await createServer(config, { logger: pino({ level: 'silent' }) });
await server.start();

/** The child: builds a DKIM-signed message of SIZE bytes and sends it from 127.0.0.20. */
const CLIENT = `
const nodemailer = require('nodemailer');
const [port, size, pem] = [Number(process.argv[1]), Number(process.argv[2]), process.argv[3]];
const line = 'x'.repeat(74) + '\\n';
(async () => {
  const built = await nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows',
    dkim: { domainName: 'good.example', keySelector: 'sel1', privateKey: pem } })
    .sendMail({ from: 'orders@good.example', to: 'rcpt@bench.test', subject: 'large', text: line.repeat(Math.floor(size / 76)) });
  const info = await nodemailer.createTransport({ host: '127.0.0.1', port, localAddress: '127.0.0.20', name: 'mta.good.example', ignoreTLS: true })
    .sendMail({ envelope: { from: 'orders@good.example', to: ['rcpt@bench.test'] }, raw: built.message });
  process.stdout.write(info.response);
})().catch((e) => { process.stdout.write(String(e.response ?? e)); });
`;

function send(port) {
  return new Promise((done) => {
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const child = spawn(process.execPath, ['-e', CLIENT, String(port), String(SIZE), pem], {
      cwd: resolve(import.meta.dirname, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('close', () => done(out));
  });
}

const memory = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');
const live = () => {
  global.gc();
  return memory();
};

async function cpuOf(listener) {
  const before = process.cpuUsage();
  const response = await send(server.ports[listener]);
  const cpu = process.cpuUsage(before);
  return { response, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function peakOf(listener) {
  const baseline = live();
  let peak = baseline;
  const poll = setInterval(() => (peak = Math.max(peak, live())), 10);
  const response = await send(server.ports[listener]);
  clearInterval(poll);
  return { response, peakMiB: (peak - baseline) / 2 ** 20 };
}

/** The first field of the stored message, to see what the check concluded. */
async function firstField(response) {
  const id = /queued as (\S+)/.exec(response)?.[1];
  if (id === undefined) return '';
  const head = (await server.spool.readBytes({ id, size: 600 })).toString('latin1');
  return head.slice(0, head.search(/\r\n(?![ \t])/)).replace(/\r\n\t/g, ' ');
}

const MiB = (n) => n.toFixed(1).padStart(6);
console.log(`message: ${(SIZE / 2 ** 20).toFixed(1)} MiB, DKIM-signed; ${ROUNDS} rounds each, alternating`);
console.log('listener  server CPU (ms)  peak live heap+arrayBuffers above idle (MiB)  reply');
try {
  let last = '';
  for (let round = 0; round < ROUNDS; round++) {
    for (const listener of ['plain', 'checked']) {
      const { cpuMs } = await cpuOf(listener);
      const { peakMiB, response } = await peakOf(listener);
      console.log(
        `${listener.padEnd(8)}  ${String(Math.round(cpuMs)).padStart(15)}  ${MiB(peakMiB).padStart(44)}  ${response.trim()}`,
      );
      if (listener === 'checked') last = response;
    }
  }
  console.log(`checked message's first field: ${await firstField(last)}`);
} finally {
  await server.stop();
  dnsmasq.kill();
  await rm(root, { recursive: true, force: true });
}
