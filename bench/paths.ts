import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The repository root, found from this file whether it runs from bench/ or dist/bench/ (by
 * tsconfig.bench.json: bench/ has a package.json of its own, for the peers).
 */
function findRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'tsconfig.bench.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`bench: tsconfig.bench.json not found above ${import.meta.dirname}`);
    dir = parent;
  }
  return dir;
}

export const ROOT = findRoot();
export const MAILWHARF_CLI = join(ROOT, 'dist/src/cli.js');
export const FLOOR_SCRIPT = join(ROOT, 'bench/peers/floor.mjs');
export const HARAKA_PLUGIN = join(ROOT, 'bench/peers/haraka-queue-fsync.js');
/** The peers live in bench/node_modules (bench/package.json; `npm run bench:deps`). */
export const BENCH_MODULES = join(ROOT, 'bench/node_modules');
export const HARAKA_BIN = join(BENCH_MODULES, 'Haraka/bin/haraka');
export const MAILDEV_BIN = join(BENCH_MODULES, 'maildev/dist/bin/maildev.js');
export const RESULTS_MD = join(ROOT, 'bench/RESULTS.md');
