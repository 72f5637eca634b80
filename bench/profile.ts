#!/usr/bin/env node
/**
 * The top of a V8 .cpuprofile (from `npm run bench -- --profile DIR`): self time by
 * function and by package, so what limits a run shows without opening DevTools.
 *   node dist/bench/profile.js FILE.cpuprofile [--top 25] [--skip-ms 1000]
 * --skip-ms leaves out the first milliseconds (start-up, module loading).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, 'skip-ms': { type: 'string', default: '0' } },
});
const file = positionals[0];
if (file === undefined) throw new Error('usage: profile.js FILE.cpuprofile [--top N]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const top = Number(values.top);
const skipMs = Number(values['skip-ms']);

// Self time per node: each sample's delta belongs to the node sampled.
const selfMs = new Map<number, number>();
let elapsedMs = 0;
profile.samples.forEach((id, i) => {
  const ms = (profile.timeDeltas[i] ?? 0) / 1000;
  elapsedMs += ms;
  if (elapsedMs > skipMs) selfMs.set(id, (selfMs.get(id) ?? 0) + ms);
});
const total = [...selfMs.values()].reduce((a, b) => a + b, 0);

function where(url: string): string {
  if (url === '') return '(native/V8)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules?.[1] !== undefined) return modules[1];
  if (url.startsWith('node:')) return 'node core';
  const ours = /\/dist\/(src\/.*)$/.exec(url);
  return ours?.[1] ?? url;
}

const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
for (const node of profile.nodes) {
  const ms = selfMs.get(node.id) ?? 0;
  if (ms === 0) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const place = where(url);
  const key = `${functionName || '(anonymous)'}  ${place}${url ? `:${lineNumber + 1}` : ''}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
  const pkg = place.startsWith('src/') ? 'mailwharf src' : place;
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms);
}

const print = (title: string, rows: Map<string, number>): void => {
  process.stdout.write(`${title}\n`);
  for (const [key, ms] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, top))
    process.stdout.write(
      `${ms.toFixed(0).padStart(8)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${key}\n`,
    );
};
process.stdout.write(`${file}: ${total.toFixed(0)} ms sampled\n\n`);
print('self time by function', byFunction);
process.stdout.write('\n');
print('self time by package', byPackage);
