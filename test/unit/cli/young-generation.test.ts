import { describe, expect, it } from 'vitest';
import { growthFactorFor, semiSpaceSizeChosen } from '../../../src/cli/young-generation.js';

const MiB = 1024 * 1024;
const CAP = 16 * MiB; // two 8 MiB semi-spaces

describe('growthFactorFor', () => {
  it.each<[string, number, 1 | 2]>([
    ['a fresh heap may double', 2 * MiB, 2],
    ['a doubling that lands on the cap is allowed', 8 * MiB, 2],
    ['at the cap it stops', 16 * MiB, 1],
    ['above the cap (grown before the first GC was seen) it stays', 32 * MiB, 1],
    ['a size between powers of two whose doubling would pass the cap stops', 12 * MiB, 1],
  ])('%s', (_why, size, factor) => {
    expect(growthFactorFor(size, CAP)).toBe(factor);
  });
});

describe('semiSpaceSizeChosen', () => {
  it.each<[string, string[], string | undefined, boolean]>([
    ['no flag anywhere', [], undefined, false],
    ['on the node command line', ['--max-semi-space-size=32'], undefined, true],
    ['with underscores, as V8 also reads it', ['--max_semi_space_size=4'], undefined, true],
    ['in NODE_OPTIONS', [], '--enable-source-maps --max-semi-space-size=16', true],
    ['another heap flag is not this one', ['--max-old-space-size=512'], '--min-semi-space-size=1', false],
  ])('%s', (_why, execArgv, nodeOptions, chosen) => {
    expect(semiSpaceSizeChosen(execArgv, nodeOptions)).toBe(chosen);
  });
});
