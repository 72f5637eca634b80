// Test-fixture start-up: the time from "start the fixture" to the first accepted message,
// for mailwharf's startMailwharf() and for the peer smtp-tester, in the same process,
// interleaved run by run (the order alternates so neither always runs second).
//
// Per run and fixture, from the moment the fixture is asked to start:
//   listening  the fixture is ready to accept connections
//   smtp 250   nodemailer's sendMail resolved (the server answered 250 to the message)
//   captured   the test-facing API handed the message over
//              (mailwharf: waitForMessage resolved; smtp-tester: captureOne resolved)
// plus the time stop() took afterwards.
//
// A benchmark, not a test: it prints figures. Loopback only, bounded counts.
//   npm run bench:fixture [-- --runs 20 --warmup 1 --json]
import { createRequire } from 'node:module';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import { startMailwharf } from '../src/index.js';
import { ROOT } from './paths.js';

/** The part of smtp-tester used here; it lives in bench/node_modules, outside the project's dependencies. */
interface SmtpTester {
  init(port: number): {
    smtpServer: { server: Server };
    captureOne(recipient: string, options: { wait: number }): Promise<unknown>;
    stop(done: () => void): void;
  };
}
const smtpTester = createRequire(join(ROOT, 'bench/package.json'))('smtp-tester') as SmtpTester;

const METRICS = ['listening', 'smtp250', 'captured', 'stop'] as const;
type Metric = (typeof METRICS)[number];
type Sample = Record<Metric, number>;
const LABELS: Record<Metric, string> = {
  listening: 'start → listening',
  smtp250: 'start → SMTP 250',
  captured: 'start → captured',
  stop: 'stop()',
};

const TOOLS = ['mailwharf', 'smtp-tester'] as const;
type Tool = (typeof TOOLS)[number];

const CAPTURE_TIMEOUT_MS = 10_000;
const RECIPIENT = 'user@example.org';

function timeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what}: nothing within ${String(ms)} ms`));
    }, ms);
  });
  return Promise.race([promise, expired]).finally(() => {
    clearTimeout(timer);
  });
}

async function send(port: number, subject: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port });
  try {
    await transport.sendMail({ from: 'bench@example.com', to: RECIPIENT, subject, text: 'startup bench' });
  } finally {
    transport.close();
  }
}

async function runMailwharf(run: number): Promise<Sample> {
  const subject = `mailwharf bench ${String(run)}`;
  const t0 = performance.now();
  const mail = await startMailwharf();
  try {
    const listening = performance.now() - t0;
    // Waiting from before the send, so the resolution time is taken when it happens.
    const captured = mail
      .waitForMessage({ subject }, { timeout: CAPTURE_TIMEOUT_MS })
      .then(() => performance.now() - t0);
    await send(mail.ports.smtp ?? 0, subject);
    const smtp250 = performance.now() - t0;
    const capturedAt = await captured;
    const s0 = performance.now();
    await mail.stop();
    return { listening, smtp250, captured: capturedAt, stop: performance.now() - s0 };
  } finally {
    await mail.stop();
  }
}

async function runSmtpTester(run: number): Promise<Sample> {
  const subject = `smtp-tester bench ${String(run)}`;
  const t0 = performance.now();
  // Port 0: an ephemeral port, as the mailwharf fixture uses.
  const server = smtpTester.init(0);
  const net = server.smtpServer.server;
  try {
    if (!net.listening) {
      await timeout(
        new Promise<void>((resolve, reject) => {
          net.once('listening', resolve);
          net.once('error', reject);
        }),
        CAPTURE_TIMEOUT_MS,
        'smtp-tester listen',
      );
    }
    const listening = performance.now() - t0;
    const address = net.address();
    if (address === null || typeof address === 'string') throw new Error('smtp-tester: no TCP address');
    // wait: 0 means no timer of its own (its timer is never cleared); ours is.
    const captured = timeout(
      server.captureOne(RECIPIENT, { wait: 0 }).then(() => performance.now() - t0),
      CAPTURE_TIMEOUT_MS,
      'smtp-tester captureOne',
    );
    await send(address.port, subject);
    const smtp250 = performance.now() - t0;
    const capturedAt = await captured;
    const s0 = performance.now();
    await new Promise<void>((resolve) => {
      server.stop(resolve);
    });
    return { listening, smtp250, captured: capturedAt, stop: performance.now() - s0 };
  } finally {
    if (net.listening) await new Promise<void>((resolve) => net.close(() => resolve()));
  }
}

const RUNNERS: Record<Tool, (run: number) => Promise<Sample>> = {
  mailwharf: runMailwharf,
  'smtp-tester': runSmtpTester,
};

interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** To 0.01 ms: finer digits are noise. */
const round = (ms: number) => Math.round(ms * 100) / 100;

function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
  return { median: round(median), min: round(sorted[0] ?? NaN), max: round(sorted.at(-1) ?? NaN) };
}

function positiveInt(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      warmup: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const runs = Math.max(1, positiveInt(values.runs, 20, 'runs'));
  const warmup = positiveInt(values.warmup, 1, 'warmup');

  const samples: Record<Tool, Sample[]> = { mailwharf: [], 'smtp-tester': [] };
  for (let i = 0; i < warmup + runs; i++) {
    const order: readonly Tool[] = i % 2 === 0 ? TOOLS : [...TOOLS].reverse();
    for (const tool of order) {
      const sample = await RUNNERS[tool](i);
      if (i >= warmup) samples[tool].push(sample);
    }
  }

  const results = Object.fromEntries(
    TOOLS.map((tool) => [
      tool,
      Object.fromEntries(METRICS.map((metric) => [metric, summarize(samples[tool].map((s) => s[metric]))])),
    ]),
  ) as Record<Tool, Record<Metric, Summary>>;

  if (values.json) {
    console.log(
      JSON.stringify(
        {
          benchmark: 'fixture-startup',
          unit: 'ms',
          runs,
          warmup,
          node: process.version,
          platform: `${process.platform}-${process.arch}`,
          results,
          samples: Object.fromEntries(
            TOOLS.map((tool) => [
              tool,
              samples[tool].map((sample) =>
                Object.fromEntries(METRICS.map((metric) => [metric, round(sample[metric])])),
              ),
            ]),
          ),
        },
        null,
        2,
      ),
    );
    return;
  }

  const fmt = (ms: number) => ms.toFixed(1).padStart(8);
  console.log(
    `fixture start-up, ${String(runs)} interleaved runs each (+${String(warmup)} warm-up), ` +
      `node ${process.version}, ${process.platform}-${process.arch}; ms`,
  );
  console.log(
    `${'fixture'.padEnd(13)}${'metric'.padEnd(20)}${'median'.padStart(8)}${'min'.padStart(8)}${'max'.padStart(8)}`,
  );
  for (const tool of TOOLS) {
    for (const metric of METRICS) {
      const { median, min, max } = results[tool][metric];
      console.log(`${tool.padEnd(13)}${LABELS[metric].padEnd(20)}${fmt(median)}${fmt(min)}${fmt(max)}`);
    }
  }
}

await main();
