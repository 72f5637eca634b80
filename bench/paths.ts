import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root, found from this file whether it runs from bench/ or dist/bench/. */
function findRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`bench: package.json not found above ${import.meta.dirname}`);
    dir = parent;
  }
  return dir;
}

export const ROOT = findRoot();
export const MAILWHARF_CLI = join(ROOT, 'dist/src/cli.js');
export const FLOOR_SCRIPT = join(ROOT, 'bench/peers/floor.mjs');
export const HARAKA_PLUGIN = join(ROOT, 'bench/peers/haraka-queue-fsync.js');
export const HARAKA_BIN = join(ROOT, 'node_modules/Haraka/bin/haraka');
export const MAILDEV_BIN = join(ROOT, 'node_modules/maildev/dist/bin/maildev.js');
export const RESULTS_MD = join(ROOT, 'bench/RESULTS.md');
