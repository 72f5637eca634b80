#!/usr/bin/env node
// What the sink index costs per message, in-process: a real Spool and Sink, COMMITS commits
// under way at once, MESSAGES messages of ~1 KiB in the four shapes of bench:sink. Prints the
// main thread's CPU per message with the sink and without it (the spool alone), runs
// alternated REPS times, so the difference is the sink's cost under the same conditions. On a
// loaded machine CPU time means more than wall time. A benchmark, not a test.
//
//   npm run bench:sink-cost
//   node --expose-gc bench/sink-cost.mjs
//     env: BENCH_DIST=DIR runs another build (a copy of dist/ inside the worktree, so that its
//     imports resolve); MESSAGES, COMMITS, REPS; SINK_ONLY=1 skips the spool-alone runs.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { message } from './sink-shapes.mjs';

const dist = resolve(process.env.BENCH_DIST ?? resolve(import.meta.dirname, '../dist'), 'src');
const { Spool } = await import(join(dist, 'spool/spool.js'));
const { Sink } = await import(join(dist, 'sink/sink.js'));
const { newQueueId } = await import(join(dist, 'spool/queue-id.js'));
const { pino } = await import('pino');

const MESSAGES = Number(process.env.MESSAGES ?? 2000);
const COMMITS = Number(process.env.COMMITS ?? 20);
const REPS = Number(process.env.REPS ?? 3);
const sinkConfig = {
  retention: { maxMessages: 0, maxAgeHours: 0, maxTotalMiB: 0 },
  tagRules: [],
  tagUsername: false,
  plusAddressTags: true,
};

async function commitOne(spool, i) {
  const id = newQueueId(Date.now());
  const bytes = Buffer.from(message(i));
  const writer = await spool.begin(id);
  writer.stream.write(bytes);
  await writer.commit({
    version: 1,
    id,
    receivedAt: new Date().toISOString(),
    size: bytes.length,
    mailFrom: 'load@bench.test',
    rcptTo: [{ address: `user${i % 13}@example.org` }],
    smtputf8: false,
    client: { address: '127.0.0.1', port: 0, helo: 'bench' },
    listener: { name: 'smtp', role: 'relay', port: 0 },
    state: 'captured',
  });
}

/**
 * The main thread's CPU time in ms (user + system): the sink works there (SQLite is
 * synchronous), while the spool's fsyncs run on libuv's threads and vary with the disk's load.
 */
function mainThreadMs() {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Main-thread CPU ms per message of one run (the warm-up's 200 messages not counted). */
async function run(withSink) {
  const dir = await mkdtemp(join(tmpdir(), 'mailwharf-sink-cost-'));
  const { spool } = await Spool.open(dir);
  const sink = withSink ? await Sink.open(spool, sinkConfig, pino({ level: 'warn' })) : undefined;
  let next = 0;
  const send = async (count) => {
    const end = next + count;
    await Promise.all(
      Array.from({ length: COMMITS }, async () => {
        while (next < end) await commitOne(spool, next++);
      }),
    );
  };
  await send(200);
  await sink?.settled();
  // The garbage of the run before is not this run's cost.
  globalThis.gc?.();
  const before = mainThreadMs();
  await send(MESSAGES);
  await sink?.close();
  const used = mainThreadMs() - before;
  await spool.close();
  await rm(dir, { recursive: true, force: true });
  return used / MESSAGES;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const withSink = [];
const without = [];
for (let rep = 0; rep < REPS; rep++) {
  withSink.push(await run(true));
  if (process.env.SINK_ONLY !== '1') without.push(await run(false));
}
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(
  `${dist}: with sink ${withSink.map((v) => v.toFixed(2)).join(' ')} ms/msg; spool alone ${without
    .map((v) => v.toFixed(2))
    .join(
      ' ',
    )}; sink cost (medians) ${(median(withSink) - (median(without) ?? 0)).toFixed(2)} ms/msg; load ${load}`,
);
