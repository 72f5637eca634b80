#!/usr/bin/env node
// What the spool's commit costs on this filesystem, step by step and as alternatives, with no
// server around it: median and p90 latency and process CPU per commit of a 4 KiB message over
// N runs (default 1000, after 50 warm-up), each step awaited on the libuv thread pool as the
// spool does. A benchmark, not a test: it prints figures. Run it before deciding how the
// spool syncs (issue 16): `node bench/spool-steps.mjs [DIR] [N]` (DIR on the spool's disk;
// default a directory under the system temp dir, removed at the end).
//
// Sequences (in a loop, so each commit meets the state the previous one left):
//   spool today   open(O_CREAT|O_EXCL|O_DSYNC) writev close rename fsync(queue/)
//   no dir fsync  the same without the fsync of queue/ (what Postfix does; NOT durable by POSIX)
//   all sync      the same syscalls run on the main thread (blocks the event loop)
//   made ahead    the file created before the timer starts (a spare), the rest as today
//                 (its CPU still counts the create: only the latency leaves it out)
//   journal       one write + fdatasync appended to an open segment file
//   dsync append  one writev on an open O_DSYNC|O_APPEND segment (one round trip)
//   overwrite     pwrite + fdatasync into an already written and synced file (a slot)
import fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = process.argv[2] || mkdtempSync(join(tmpdir(), 'mailwharf-spool-steps-'));
const runs = Number(process.argv[3] ?? 1000);
const C = fs.constants;
const open = promisify(fs.open);
const writev = promisify(fs.writev);
const write = promisify(fs.write);
const rename = promisify(fs.rename);
const fsync = promisify(fs.fsync);
const fdatasync = promisify(fs.fdatasync);

rmSync(root, { recursive: true, force: true });
fs.mkdirSync(join(root, 'tmp'), { recursive: true });
fs.mkdirSync(join(root, 'queue'));
const queueDir = fs.openSync(join(root, 'queue'), 'r');
const message = [Buffer.from('Received: from bench\r\n'), Buffer.alloc(4096, 'x'), Buffer.alloc(300, 'j')];
const whole = Buffer.concat(message);
const NEW_SYNCED = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_DSYNC;
let made = 0;
const paths = () => {
  made += 1;
  return [join(root, 'tmp', `${String(made)}.eml`), join(root, 'queue', `${String(made)}.eml`)];
};
const segment = fs.openSync(join(root, 'segment'), 'a');
const dsyncSegment = fs.openSync(
  join(root, 'segment-dsync'),
  C.O_WRONLY | C.O_CREAT | C.O_APPEND | C.O_DSYNC,
);
const slots = fs.openSync(join(root, 'slots'), 'w+');
fs.writeSync(slots, Buffer.alloc((runs + 100) * 8192));
fs.fsyncSync(slots);
let slot = 0;

/** Each returns the ms to count (setup done before its own timer where it has any). */
const sequences = {
  'spool today': async () => {
    const [temporary, queued] = paths();
    const start = performance.now();
    const fd = await open(temporary, NEW_SYNCED, 0o640);
    await writev(fd, message);
    fs.closeSync(fd);
    await rename(temporary, queued);
    await fsync(queueDir);
    return performance.now() - start;
  },
  'no dir fsync': async () => {
    const [temporary, queued] = paths();
    const start = performance.now();
    const fd = await open(temporary, NEW_SYNCED, 0o640);
    await writev(fd, message);
    fs.closeSync(fd);
    await rename(temporary, queued);
    return performance.now() - start;
  },
  'all sync': () => {
    const [temporary, queued] = paths();
    const start = performance.now();
    const fd = fs.openSync(temporary, NEW_SYNCED, 0o640);
    fs.writevSync(fd, message);
    fs.closeSync(fd);
    fs.renameSync(temporary, queued);
    fs.fsyncSync(queueDir);
    return Promise.resolve(performance.now() - start);
  },
  'made ahead': async () => {
    const [temporary, queued] = paths();
    const fd = await open(temporary, NEW_SYNCED, 0o640);
    const start = performance.now();
    await writev(fd, message);
    fs.closeSync(fd);
    await rename(temporary, queued);
    await fsync(queueDir);
    return performance.now() - start;
  },
  journal: async () => {
    const start = performance.now();
    await write(segment, whole);
    await fdatasync(segment);
    return performance.now() - start;
  },
  'dsync append': async () => {
    const start = performance.now();
    await writev(dsyncSegment, message);
    return performance.now() - start;
  },
  overwrite: async () => {
    const start = performance.now();
    await write(slots, whole, 0, whole.length, slot * 8192);
    slot += 1;
    await fdatasync(slots);
    return performance.now() - start;
  },
};

const at = (sorted, share) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * share))];
for (const [name, once] of Object.entries(sequences)) {
  for (let i = 0; i < 50; i++) await once();
  const times = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < runs; i++) times.push(await once());
  const used = process.cpuUsage(cpu);
  times.sort((a, b) => a - b);
  const perRun = (micros) => (micros / runs / 1000).toFixed(3);
  console.log(
    `${name.padEnd(13)} median ${at(times, 0.5).toFixed(3)} ms  p90 ${at(times, 0.9).toFixed(3)} ms  ` +
      `cpu/commit user ${perRun(used.user)} sys ${perRun(used.system)} ms`,
  );
}
rmSync(root, { recursive: true, force: true });
