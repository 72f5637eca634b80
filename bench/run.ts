#!/usr/bin/env node
/**
 * The intake bench: mailwharf against Postfix (a private instance), the floor (naive fsyncing smtp-server), Haraka with a
 * disk queue, MailDev and smtp-sink (the ceiling), all on loopback, driven by Postfix's
 * smtp-source. For each cell, for each repetition, every peer runs once, started fresh.
 * A benchmark, not a test: it prints figures (stdout), progress goes to stderr.
 *
 *   npm run bench [-- --json] [--reps N] [--cells conn-1,reuse-50] [--peers mailwharf,floor]
 *                 [--profile DIR] [--mailwharf-env NAME=VALUE]… [--no-write]
 *
 * --profile DIR runs mailwharf under `node --cpu-prof` (one .cpuprofile per run in DIR;
 * `node dist/bench/profile.js FILE` prints its top). --mailwharf-env sets a variable for
 * mailwharf only (e.g. UV_THREADPOOL_SIZE=8), to measure a change against the others.
 * bench/RESULTS.md is rewritten after a full run (no --cells/--peers, no --no-write).
 */
import { statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CELLS, warmUp, type Cell } from './cells.js';
import { drive } from './drive.js';
import { describeMachine } from './machine.js';
import { MAILWHARF_CLI, RESULTS_MD } from './paths.js';
import { floorPeer, noDiskPeer } from './peers/floor.js';
import { harakaPeer } from './peers/haraka.js';
import { maildevPeer } from './peers/maildev.js';
import { mailwharfPeer } from './peers/mailwharf.js';
import { postfixPeer } from './peers/postfix.js';
import { PEERS, type Peer, type PeerName, type RunningPeer } from './peers/peer.js';
import { smtpSinkPeer } from './peers/smtp-sink.js';
import { ensurePostfixTools } from './postfix.js';
import { sleep } from './proc.js';
import { renderMarkdown, renderText, type Report } from './report.js';
import { RssSampler } from './rss.js';
import { checkTargets, ratios, summarize, type Sample } from './stats.js';

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    reps: { type: 'string', default: '3' },
    cells: { type: 'string' },
    peers: { type: 'string' },
    profile: { type: 'string' },
    'mailwharf-env': { type: 'string', multiple: true },
    'no-write': { type: 'boolean', default: false },
  },
});

const reps = Number(values.reps);
if (!Number.isInteger(reps) || reps < 1 || reps > 20) throw new Error('--reps must be 1 to 20');
const list = (value: string | undefined): string[] | undefined => value?.split(',').map((s) => s.trim());
const wantedCells = list(values.cells);
const wantedPeers = list(values.peers);
for (const id of wantedCells ?? [])
  if (!CELLS.some((c) => c.id === id))
    throw new Error(`unknown cell ${id}; cells: ${CELLS.map((c) => c.id).join(', ')}`);
for (const name of wantedPeers ?? [])
  if (!(PEERS as readonly string[]).includes(name))
    throw new Error(`unknown peer ${name}; peers: ${PEERS.join(', ')}`);

const profileDir = values.profile === undefined ? undefined : resolve(values.profile);
const mailwharfEnv = Object.fromEntries(
  (values['mailwharf-env'] ?? []).map((pair) => {
    const [name = '', ...rest] = pair.split('=');
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name) || rest.length === 0)
      throw new Error(`--mailwharf-env NAME=VALUE, not ${pair}`);
    return [name, rest.join('=')];
  }),
);
const peers: Record<PeerName, Peer> = {
  mailwharf: mailwharfPeer({
    ...(profileDir ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir] } : {}),
    env: mailwharfEnv,
  }),
  postfix: postfixPeer,
  floor: floorPeer,
  haraka: harakaPeer,
  maildev: maildevPeer,
  'smtp-server': noDiskPeer,
  'smtp-sink': smtpSinkPeer,
};
const cells: Cell[] = CELLS.filter((c) => !wantedCells || wantedCells.includes(c.id)).map((c) => ({
  ...c,
  peers: c.peers.filter((p) => !wantedPeers || wantedPeers.includes(p)),
}));

/** The store's count once it reaches `expected`, or after 3 s (MailDev may lag its 250s). */
async function settledCount(peer: RunningPeer, expected: number): Promise<number | undefined> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const count = await peer.stored();
    if (count === undefined || count >= expected || Date.now() > deadline) return count;
    await sleep(50);
  }
}

async function measure(peer: Peer, cell: Cell, rep: number): Promise<Sample> {
  const running = await peer.start();
  try {
    const warmed = await warmUp(peer.name, running.port, cell);
    const before = (await settledCount(running, warmed)) ?? 0;
    const rss = new RssSampler(running.pid, peer.rssOfTree === true);
    const result = await drive(running.port, cell.load);
    const rssMiB = rss.finish();
    const after = await settledCount(running, before + result.sent);
    return {
      cell: cell.id,
      peer: peer.name,
      rep,
      seconds: result.seconds,
      sent: result.sent,
      messagesPerSecond: result.sent / result.seconds,
      stored: after === undefined ? undefined : after - before,
      rssMiB,
      exitCode: result.exitCode,
      errors: result.errors,
    };
  } finally {
    await running.stop();
  }
}

ensurePostfixTools(log);
const machine = describeMachine();
const samples: Sample[] = [];
const started = Date.now();
// Another build during the run would mix two versions of mailwharf in one table.
const builtAt = (): number => statSync(MAILWHARF_CLI).mtimeMs;
const buildAtStart = builtAt();
const loadAtStart = loadavg()[0] ?? 0;
for (const cell of cells) {
  for (let rep = 1; rep <= reps; rep++) {
    // Rotate the order each repetition, so no peer always runs right after the same one.
    const order = cell.peers.map((_, i) => cell.peers[(i + rep - 1) % cell.peers.length] as PeerName);
    for (const name of order) {
      const sample = await measure(peers[name], cell, rep);
      samples.push(sample);
      log(
        `${cell.id} rep ${rep} ${name}: ${sample.messagesPerSecond.toFixed(1)} msg/s, ` +
          `${sample.rssMiB.toFixed(1)} MiB, stored ${sample.stored ?? '-'}/${sample.sent}` +
          (sample.exitCode === 0 ? '' : ` (smtp-source exit ${sample.exitCode}: ${sample.errors})`),
      );
    }
  }
}
log(`bench: ${((Date.now() - started) / 1000).toFixed(0)} s`);
const notes = [
  `load average (1 min) ${loadAtStart.toFixed(2)} at the start, ${(loadavg()[0] ?? 0).toFixed(2)} at the end ` +
    `(the bench alone keeps it near 2 on 2 CPUs; more means other work shared the machine)`,
  ...(builtAt() === buildAtStart
    ? []
    : ['dist/src/cli.js was rebuilt during the run: the figures mix two builds']),
];
for (const note of notes) log(`bench: ${note}`);

const summaries = summarize(cells, samples);
const ratioRows = ratios(cells, summaries);
const report: Report = {
  cells,
  peers: PEERS.filter((p) => cells.some((c) => c.peers.includes(p))).map((p) => peers[p]),
  summaries,
  ratios: ratioRows,
  targets: checkTargets(summaries, ratioRows),
  reps,
  machine,
  notes,
};
if (values.json) {
  process.stdout.write(
    `${JSON.stringify({ machine, reps, cells, samples, summaries, ratios: ratioRows, targets: report.targets, notes }, null, 2)}\n`,
  );
} else {
  process.stdout.write(`${renderText(report)}\n`);
}
if (
  !wantedCells &&
  !wantedPeers &&
  !values['no-write'] &&
  !profileDir &&
  values['mailwharf-env'] === undefined
) {
  const command = `npm run bench${reps === 3 ? '' : ` -- --reps ${reps}`}`;
  writeFileSync(RESULTS_MD, renderMarkdown(report, command));
  log(`bench: wrote ${RESULTS_MD}`);
}
