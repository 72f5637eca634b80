#!/usr/bin/env node
// Delivery of 2,000 x 4 KiB queued messages to smtp-sink: mailwharf (bench/delivery.mjs)
// and a private Postfix instance (bench/postfix-relay.mjs), run alternately in the same
// run, BENCH_ROUNDS times each (default 3); prints each run with the load average before it
// (the machine may be shared), the medians and the ratio.
// Runs as root (Postfix). A benchmark: it prints figures.
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const run = (script) =>
  JSON.parse(
    execFileSync(process.execPath, [resolve(import.meta.dirname, script), '--json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
      .trim()
      .split('\n')
      .pop(),
  );
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

const mailwharf = [];
const postfix = [];
for (let round = 1; round <= ROUNDS; round++) {
  const load = loadavg()[0] ?? 0;
  const ours = run('delivery.mjs');
  mailwharf.push(ours.seconds);
  const theirs = run('postfix-relay.mjs');
  postfix.push(theirs.seconds);
  console.log(
    `round ${String(round)}: mailwharf ${ours.seconds.toFixed(2)} s (${ours.cpuSeconds.toFixed(2)} s CPU, ${ours.cpuMsPerMessage.toFixed(3)} ms per message; the bench ${ours.benchCpuSeconds.toFixed(2)} s), postfix ${theirs.seconds.toFixed(2)} s (${String(ours.messages)} x ${String(ours.size)} B, ${String(ours.connections)} connections, load average ${load.toFixed(2)})`,
  );
}
const ours = median(mailwharf);
const theirs = median(postfix);
console.log(
  `median: mailwharf ${ours.toFixed(2)} s, postfix ${theirs.toFixed(2)} s; postfix time / mailwharf time = ${(theirs / ours).toFixed(2)} (above 1: mailwharf faster)`,
);
