/** Medians and ranges over repetitions, and the ratios we judge by. */
import type { Cell } from './cells.js';
import type { PeerName } from './peers/peer.js';

export interface Sample {
  readonly cell: string;
  readonly peer: PeerName;
  readonly rep: number;
  readonly seconds: number;
  readonly sent: number;
  readonly messagesPerSecond: number;
  /** undefined: the peer keeps nothing. */
  readonly stored: number | undefined;
  readonly rssMiB: number;
  readonly exitCode: number | null;
  readonly errors: string;
}

export interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface Summary {
  readonly cell: string;
  readonly peer: PeerName;
  readonly runs: number;
  readonly rate: Stat;
  readonly rssMiB: Stat;
  readonly sent: number;
  readonly stored: number | undefined;
  /** smtp-source failures, short counts: anything that makes a figure suspect. */
  readonly problems: readonly string[];
}

export function stat(values: readonly number[]): Stat {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1
      ? (sorted[middle] ?? NaN)
      : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
  return { median, min: sorted[0] ?? NaN, max: sorted.at(-1) ?? NaN };
}

export function summarize(cells: readonly Cell[], samples: readonly Sample[]): Summary[] {
  return cells.flatMap((cell) =>
    cell.peers.flatMap((peer) => {
      const runs = samples.filter((s) => s.cell === cell.id && s.peer === peer);
      if (runs.length === 0) return [];
      const keepsNothing = runs.every((s) => s.stored === undefined);
      const problems = runs.flatMap((s) => [
        ...(s.exitCode === 0
          ? []
          : [`rep ${s.rep}: smtp-source exit ${s.exitCode}: ${s.errors.split('\n')[0] ?? ''}`]),
        ...(s.sent === cell.load.messages ? [] : [`rep ${s.rep}: sent ${s.sent} of ${cell.load.messages}`]),
        ...(s.stored === undefined || s.stored === s.sent
          ? []
          : [`rep ${s.rep}: stored ${s.stored} of ${s.sent}`]),
      ]);
      return [
        {
          cell: cell.id,
          peer,
          runs: runs.length,
          rate: stat(runs.map((s) => s.messagesPerSecond)),
          rssMiB: stat(runs.map((s) => s.rssMiB)),
          sent: runs.reduce((sum, s) => sum + s.sent, 0),
          stored: keepsNothing ? undefined : runs.reduce((sum, s) => sum + (s.stored ?? 0), 0),
          problems,
        },
      ];
    }),
  );
}

export interface Ratios {
  readonly cell: string;
  /** mailwharf messages/s over the peer's, medians of the same run. */
  readonly vsFloor: number | undefined;
  /** Against Postfix, the server a relay user would pick instead. */
  readonly vsPostfix: number | undefined;
  readonly vsHaraka: number | undefined;
  readonly vsSink: number | undefined;
  /** Against smtp-server storing nothing: how much of the library's ceiling is left. */
  readonly vsNoDisk: number | undefined;
  /** mailwharf peak RSS minus the floor's (MiB, medians). */
  readonly rssOverFloorMiB: number | undefined;
}

export function ratios(cells: readonly Cell[], summaries: readonly Summary[]): Ratios[] {
  const find = (cell: string, peer: PeerName): Summary | undefined =>
    summaries.find((s) => s.cell === cell && s.peer === peer);
  return cells.flatMap((cell) => {
    const ours = find(cell.id, 'mailwharf');
    if (!ours) return [];
    const over = (peer: PeerName): number | undefined => {
      const theirs = find(cell.id, peer);
      return theirs ? ours.rate.median / theirs.rate.median : undefined;
    };
    const floor = find(cell.id, 'floor');
    return [
      {
        cell: cell.id,
        vsFloor: over('floor'),
        vsPostfix: over('postfix'),
        vsHaraka: over('haraka'),
        vsSink: over('smtp-sink'),
        vsNoDisk: over('smtp-server'),
        rssOverFloorMiB: floor ? ours.rssMiB.median - floor.rssMiB.median : undefined,
      },
    ];
  });
}

export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

/** The targets the lead set, checked against ratios of the same run. */
export function checkTargets(summaries: readonly Summary[], all: readonly Ratios[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const r = (cell: string): Ratios | undefined => all.find((x) => x.cell === cell);
  const x = (value: number): string => `${value.toFixed(2)}×`;
  for (const ratio of all)
    if (ratio.vsPostfix !== undefined)
      checks.push({
        target: `${ratio.cell}: mailwharf ≥ Postfix`,
        measured: x(ratio.vsPostfix),
        met: ratio.vsPostfix >= 1,
      });
  const conn1 = r('conn-1');
  if (conn1?.vsFloor !== undefined)
    checks.push({
      target: 'conn-1: mailwharf ≥ 25× floor',
      measured: x(conn1.vsFloor),
      met: conn1.vsFloor >= 25,
    });
  const reuse50 = r('reuse-50');
  if (reuse50?.vsFloor !== undefined)
    checks.push({
      target: 'reuse-50: mailwharf ≥ 1.5× floor (stretch 2×)',
      measured: x(reuse50.vsFloor),
      met: reuse50.vsFloor >= 1.5,
    });
  if (reuse50?.vsHaraka !== undefined)
    checks.push({
      target: 'reuse-50: mailwharf ≥ Haraka',
      measured: x(reuse50.vsHaraka),
      met: reuse50.vsHaraka >= 1,
    });
  const big = r('reuse-10-1m');
  if (big?.vsFloor !== undefined)
    checks.push({
      target: 'reuse-10-1m: mailwharf ≥ 95% of floor',
      measured: x(big.vsFloor),
      met: big.vsFloor >= 0.95,
    });
  if (big?.rssOverFloorMiB !== undefined)
    checks.push({
      target: 'reuse-10-1m: mailwharf peak RSS ≤ floor + 30 MiB',
      measured: `floor ${big.rssOverFloorMiB >= 0 ? '+' : '−'} ${Math.abs(big.rssOverFloorMiB).toFixed(1)} MiB`,
      met: big.rssOverFloorMiB <= 30,
    });
  const memory = summaries.find((s) => s.cell === 'memory-50-10m' && s.peer === 'mailwharf');
  if (memory)
    checks.push({
      target: 'memory-50-10m: mailwharf peak RSS < 150 MiB',
      measured: `${memory.rssMiB.median.toFixed(1)} MiB (max ${memory.rssMiB.max.toFixed(1)})`,
      met: memory.rssMiB.max < 150,
    });
  return checks;
}
