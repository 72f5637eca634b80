#!/usr/bin/env node
// DKIM signing path for an 8-bit message: the memory signedMessage() costs for a 25 MiB 8-bit
// message (its 7-bit form, made to be signed and sent) while its stream is read to the end —
// peak live heapUsed + arrayBuffers above the baseline, read after a forced GC every 16 chunks
// and every 10 ms. A benchmark, not a test: it prints figures. BENCH_DIST points at another
// build's dist/src to compare (e.g. the commit before).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const dist = resolve(process.env.BENCH_DIST ?? resolve(import.meta.dirname, '../dist/src'));
const { Spool } = await import(join(dist, 'spool/spool.js'));
const { enqueueLocal } = await import(join(dist, 'delivery/enqueue.js'));
const { signedMessage } = await import(join(dist, 'delivery/signed-message.js'));
const SIZE = Number(process.env.BENCH_BYTES ?? 25 * 1024 * 1024);

if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');
const live = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const sample = () => {
  global.gc();
  return live();
};

const root = await mkdtemp(join(tmpdir(), 'mailwharf-bench-7bit-'));
try {
  const { spool } = await Spool.open(join(root, 'spool'));
  const line = 'Grüße aus Köln, ein Absatz mit Umlauten: äöü ÄÖÜ ß — und noch mehr Text.\r\n';
  const header =
    'From: Alice <alice@example.com>\r\nTo: bob@one.test\r\nSubject: 8-bit\r\nMIME-Version: 1.0\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n';
  const lines = Math.ceil((SIZE - header.length) / Buffer.byteLength(line));
  const envelope = await enqueueLocal(spool, header + line.repeat(lines), {
    mailFrom: 'alice@example.com',
    rcptTo: ['bob@one.test'],
    hostname: 'bench.test',
    listener: 'bench',
  });
  const baseline = sample();
  let peak = baseline;
  const poll = setInterval(() => (peak = Math.max(peak, sample())), 10);
  const message = await signedMessage(spool, envelope, '', true);
  let bytes = 0;
  let chunks = 0;
  for await (const chunk of message.open()) {
    bytes += chunk.length;
    if (++chunks % 16 === 0) peak = Math.max(peak, sample());
  }
  peak = Math.max(peak, sample());
  clearInterval(poll);
  await spool.close();
  const MiB = (n) => (n / 2 ** 20).toFixed(1);
  console.log(`build: ${dist}`);
  console.log(
    `8-bit message: ${MiB(envelope.size)} MiB stored, ${MiB(bytes)} MiB as 7-bit (size said ${MiB(message.envelope.size)})`,
  );
  console.log(
    `peak live heapUsed+arrayBuffers above baseline while signing's stream is read: ${MiB(peak - baseline)} MiB`,
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
