/** The tables: plain text for stdout, Markdown for bench/RESULTS.md. */
import { describeWarmup, type Cell } from './cells.js';
import type { Machine } from './machine.js';
import type { Peer } from './peers/peer.js';
import type { Ratios, Summary, TargetCheck } from './stats.js';

type Row = readonly string[];
interface Table {
  readonly headers: Row;
  readonly rows: readonly Row[];
  /** Columns aligned right (numbers). */
  readonly right: readonly number[];
}

function text(table: Table): string {
  const widths = table.headers.map((h, i) =>
    Math.max(h.length, ...table.rows.map((r) => (r[i] ?? '').length)),
  );
  const line = (row: Row): string =>
    row
      .map((cell, i) =>
        table.right.includes(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0),
      )
      .join('  ')
      .trimEnd();
  return [line(table.headers), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map(line)].join(
    '\n',
  );
}

function markdown(table: Table): string {
  const line = (row: Row): string => `| ${row.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  const rule = table.headers.map((_, i) => (table.right.includes(i) ? '---:' : '---'));
  return [line(table.headers), line(rule), ...table.rows.map(line)].join('\n');
}

const rate = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const mib = (n: number): string => n.toFixed(1);
const times = (n: number | undefined): string => (n === undefined ? '-' : `${n.toFixed(2)}×`);

function resultsTable(cells: readonly Cell[], summaries: readonly Summary[]): Table {
  const label = new Map(cells.map((c) => [c.id, c.label]));
  return {
    headers: ['cell', 'peer', 'msg/s', 'min–max', 'peak RSS MiB', 'min–max', 'stored/sent'],
    right: [2, 3, 4, 5, 6],
    rows: summaries.map((s, i) => [
      i > 0 && summaries[i - 1]?.cell === s.cell ? '' : `${s.cell} (${label.get(s.cell) ?? ''})`,
      s.peer,
      rate(s.rate.median),
      `${rate(s.rate.min)}–${rate(s.rate.max)}`,
      mib(s.rssMiB.median),
      `${mib(s.rssMiB.min)}–${mib(s.rssMiB.max)}`,
      `${s.stored === undefined ? '-' : String(s.stored)}/${s.sent}${s.problems.length > 0 ? ' !' : ''}`,
    ]),
  };
}

function ratiosTable(all: readonly Ratios[]): Table {
  return {
    headers: [
      'cell',
      'mailwharf/Postfix',
      'mailwharf/floor',
      'mailwharf/Haraka',
      'mailwharf/smtp-server (no disk)',
      'mailwharf/smtp-sink',
      'RSS mailwharf − floor',
    ],
    right: [1, 2, 3, 4, 5, 6],
    rows: all.map((r) => [
      r.cell,
      times(r.vsPostfix),
      times(r.vsFloor),
      times(r.vsHaraka),
      times(r.vsNoDisk),
      times(r.vsSink),
      r.rssOverFloorMiB === undefined
        ? '-'
        : `${r.rssOverFloorMiB >= 0 ? '+' : '−'}${mib(Math.abs(r.rssOverFloorMiB))} MiB`,
    ]),
  };
}

function targetsTable(checks: readonly TargetCheck[]): Table {
  return {
    headers: ['target', 'measured', 'met'],
    right: [],
    rows: checks.map((c) => [c.target, c.measured, c.met ? 'yes' : 'NO']),
  };
}

export interface Report {
  readonly cells: readonly Cell[];
  readonly peers: readonly Peer[];
  readonly summaries: readonly Summary[];
  readonly ratios: readonly Ratios[];
  readonly targets: readonly TargetCheck[];
  readonly reps: number;
  readonly machine: Machine;
  /** About the run itself (machine load, a rebuild during the run). */
  readonly notes: readonly string[];
}

function problems(summaries: readonly Summary[]): string[] {
  return summaries.flatMap((s) => s.problems.map((p) => `${s.cell} ${s.peer}: ${p}`));
}

const NOTES =
  'msg/s = messages / wall time of smtp-source (median over repetitions, min–max beside it); ' +
  'peak RSS of the server process (max of VmRSS polled every 50 ms and VmHWM, reset after the warm-up; for Postfix the sum of Pss over its processes at each poll); ' +
  'stored/sent summed over repetitions ("-": keeps nothing; "!": see problems); ' +
  `${describeWarmup()}, so every figure is a steady-state one.`;

export function renderText(report: Report): string {
  const issues = problems(report.summaries);
  return [
    text(resultsTable(report.cells, report.summaries)),
    '',
    text(ratiosTable(report.ratios)),
    '',
    text(targetsTable(report.targets)),
    ...(issues.length > 0 ? ['', 'problems:', ...issues.map((p) => `  ${p}`)] : []),
    '',
    NOTES,
    ...report.notes,
  ].join('\n');
}

export function renderMarkdown(report: Report, command: string): string {
  const m = report.machine;
  const issues = problems(report.summaries);
  return [
    '# mailwharf intake bench: latest results',
    '',
    `Written by \`${command}\` on ${m.date}. ${report.reps} repetitions per cell, peers interleaved ` +
      'cell by cell (each repetition runs every peer, in a rotating order), each server started fresh per run.',
    '',
    `Machine: ${m.nproc} CPUs (nproc), ${m.cpu}; Linux ${m.kernel}; Node.js ${m.node}; ` +
      Object.entries(m.versions)
        .map(([name, version]) => `${name} ${version}`)
        .join(', ') +
      '.',
    '',
    '## Results',
    '',
    markdown(resultsTable(report.cells, report.summaries)),
    '',
    NOTES,
    '',
    ...report.notes.map((note) => `- ${note}`),
    '',
    '## Ratios (medians of the same run)',
    '',
    markdown(ratiosTable(report.ratios)),
    '',
    '## Targets',
    '',
    markdown(targetsTable(report.targets)),
    ...(issues.length > 0 ? ['', '## Problems', '', ...issues.map((p) => `- ${p}`)] : []),
    '',
    '## Cells',
    '',
    ...report.cells.map(
      (c) =>
        `- \`${c.id}\`: ${c.label}: smtp-source -m ${c.load.messages} -s ${c.load.sessions} -l ${c.load.bytes}` +
        `${c.load.reuse ? ' -d' : ''}; peers ${c.peers.join(', ')}`,
    ),
    '',
    '## Peers',
    '',
    ...report.peers.map((p) => `- **${p.name}**: ${p.description}`),
    '',
  ].join('\n');
}
