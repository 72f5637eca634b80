import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './config/load.js';

let cached: string | undefined;

/** The package version, read once (at start-up, not on a request path). */
export function packageVersion(): string {
  if (cached === undefined) {
    const text = readFileSync(join(packageRoot(), 'package.json'), 'utf8');
    cached = (JSON.parse(text) as { version?: string }).version ?? '0.0.0';
  }
  return cached;
}
