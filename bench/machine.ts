/** The machine a run was measured on, for RESULTS.md. */
import { readFileSync } from 'node:fs';
import { availableParallelism, release } from 'node:os';
import { join } from 'node:path';
import { BENCH_MODULES, ROOT } from './paths.js';

export interface Machine {
  readonly nproc: number;
  readonly cpu: string;
  readonly kernel: string;
  readonly node: string;
  readonly date: string;
  readonly versions: Readonly<Record<string, string>>;
}

function packageVersion(dir: string, modules = join(ROOT, 'node_modules')): string {
  try {
    const json = JSON.parse(readFileSync(join(modules, dir, 'package.json'), 'utf8')) as {
      version?: string;
    };
    return json.version ?? '?';
  } catch {
    return '?';
  }
}

export function describeMachine(): Machine {
  let cpu = '?';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?';
  } catch {
    // not Linux
  }
  return {
    nproc: availableParallelism(),
    cpu,
    kernel: release(),
    node: process.version,
    date: new Date().toISOString(),
    versions: {
      'smtp-server': packageVersion('smtp-server'),
      Haraka: packageVersion('Haraka', BENCH_MODULES),
      maildev: packageVersion('maildev', BENCH_MODULES),
    },
  };
}
