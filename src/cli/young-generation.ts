/**
 * Caps V8's young generation (new space) of the server process at 2 × 8 MiB semi-spaces.
 *
 * Why: V8 doubles the new space whenever enough objects survived scavenges since it last grew,
 * up to 2 × 16 MiB on 64-bit. At 50 concurrent sessions mailwharf reaches that ceiling within a
 * few thousand messages, and the 32 MiB stay resident: they were most of its peak RSS above a
 * bare smtp-server's (issue #16). At 8 MiB the server scavenges about 1.7 times as often, each
 * scavenge as cheap (its cost follows the surviving objects, not the space's size).
 *
 * `--max-semi-space-size=8` would say it, but V8 reads that flag only when the heap is made, so
 * it works on a node command line and in NODE_OPTIONS, not from inside `mailwharf`, which is
 * started as `npx mailwharf`, a bin with a plain `#!/usr/bin/env node` (`env -S node FLAGS` is
 * not understood by busybox's env, so flags there would break Alpine), or as
 * `node dist/src/cli.js` (the Docker image). V8 reads `--semi-space-growth-factor` each time it
 * grows the new space, so after every GC this sets it to 2 while a doubling stays within the
 * cap and to 1 (no growth) once the new space has reached it. V8 still shrinks the new space
 * when allocation is slow, and grows it again under load. A growth between two turns of the
 * event loop can overshoot once; the server's work is split into short callbacks.
 *
 * Checked on Node 20 (V8 11.3), the supported floor. Later V8s declare a minimum of 2 for the
 * factor and may hold to it, leaving the default growth: harmless, and the Docker image (Node
 * 24) passes --max-semi-space-size=8 on node's command line instead.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

export const MAX_SEMI_SPACE_MIB = 8;
const MiB = 1024 * 1024;

/** Whoever starts node with --max-semi-space-size chose the size; this leaves it alone. */
export function semiSpaceSizeChosen(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const flag = /(^|\s)--max[-_]semi[-_]space[-_]size\b/;
  return execArgv.some((argument) => flag.test(argument)) || flag.test(nodeOptions ?? '');
}

/** The growth factor that keeps a new space of `size` bytes within `capBytes` (both semi-spaces). */
export function growthFactorFor(size: number, capBytes: number): 1 | 2 {
  return size * 2 <= capBytes ? 2 : 1;
}

function newSpaceSize(): number {
  return v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
}

/** Starts the cap for this process; stop() restores V8's default growth. */
export function capYoungGeneration(maxSemiSpaceMiB = MAX_SEMI_SPACE_MIB): { stop(): void } {
  const capBytes = 2 * maxSemiSpaceMiB * MiB;
  let factor: 1 | 2 = 2;
  const apply = (): void => {
    const wanted = growthFactorFor(newSpaceSize(), capBytes);
    if (wanted === factor) return;
    v8.setFlagsFromString(`--semi-space-growth-factor=${String(wanted)}`);
    factor = wanted;
  };
  const observer = new PerformanceObserver(apply);
  observer.observe({ entryTypes: ['gc'] });
  apply();
  return {
    stop() {
      observer.disconnect();
      if (factor !== 2) v8.setFlagsFromString('--semi-space-growth-factor=2');
      factor = 2;
    },
  };
}
