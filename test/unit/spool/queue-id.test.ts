import { describe, expect, it } from 'vitest';
import { isQueueId, newQueueId } from '../../../src/spool/queue-id.js';

describe('newQueueId', () => {
  it.each([
    // now (ms since the epoch), why
    [0, 'the epoch: the time part is all padding'],
    [Date.UTC(2026, 10, 22, 22, 30, 12), 'today'],
    [Date.UTC(4000, 0, 1), 'far ahead, still nine base-36 digits'],
  ])('is 17 characters of [0-9A-Z] at %i (%s)', (now, _why) => {
    const id = newQueueId(now);
    expect(id).toMatch(/^[0-9A-Z]{17}$/);
    expect(isQueueId(id)).toBe(true);
  });

  it('starts with the time in base 36, so the file name says when it arrived', () => {
    const now = Date.UTC(2026, 10, 22, 22, 30, 12);
    expect(parseInt(newQueueId(now).slice(0, 9), 36)).toBe(now);
  });

  it.each([
    // earlier, later, why
    [0, 1, 'one millisecond apart'],
    [9, 10, 'across the 9 -> A digit boundary (ASCII orders digits before letters)'],
    [35, 36, 'across a carry into the next base-36 digit'],
    [Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1) + 1, 'one millisecond apart today'],
    [
      Date.UTC(2026, 0, 1),
      Date.UTC(2071, 0, 1),
      'across 2059, where the time first needs a ninth digit (padding keeps the order)',
    ],
  ])('an id made at %i sorts before one made at %i (%s)', (earlier, later, _why) => {
    for (let round = 0; round < 20; round++) {
      expect(newQueueId(earlier) < newQueueId(later)).toBe(true);
    }
  });

  it('ids made in random time order sort back into time order', () => {
    const times = [5, 1_000, 36 ** 4, Date.UTC(2001, 0, 1), Date.UTC(2026, 10, 22), Date.UTC(2100, 5, 6)];
    const ids = new Map(times.map((time) => [newQueueId(time), time]));
    const byId = [...ids.keys()].sort().map((id) => ids.get(id));
    expect(byId).toEqual(times);
  });

  it('two ids of the same millisecond differ in their random part', () => {
    const now = Date.UTC(2026, 10, 22);
    const ids = new Set(Array.from({ length: 1000 }, () => newQueueId(now)));
    expect(ids.size).toBe(1000);
  });
});

describe('isQueueId', () => {
  it.each([
    // value, valid, why
    ['0MWSF89GCAQP4Q8F3', true, 'a queue id'],
    ['00000000000000000', true, 'all digits'],
    ['ZZZZZZZZZZZZZZZZZ', true, 'all letters'],
    ['0mwsf89gcaqp4q8f3', false, 'lower case is not what newQueueId makes'],
    ['0MWSF89GCAQP4Q8F', false, '16 characters'],
    ['0MWSF89GCAQP4Q8F3A', false, '18 characters'],
    ['', false, 'empty'],
    ['../x', false, 'path traversal'],
    ['../../../etc/passwd', false, 'deeper path traversal'],
    ['../0MWSF89GCAQP4Q8', false, 'path traversal of the right length'],
    ['0MWSF89GCAQP4Q/F3', false, 'a path separator'],
    ['0MWSF89GCAQP4Q\\F3', false, 'a Windows path separator'],
    ['0MWSF89GCAQP4Q8F3.eml', false, 'a file name, not an id'],
    ['0MWSF89GCAQP4Q8F3\n', false, 'a trailing newline'],
    ['0MWSF89GCAQP4Q8F\0', false, 'a NUL byte'],
    [' 0MWSF89GCAQP4Q8F', false, 'a leading space'],
    ['0MWSF89GCAQP4Q8F٣', false, 'a non-ASCII digit'],
  ] as const)('%j -> %s (%s)', (value, valid, _why) => {
    expect(isQueueId(value)).toBe(valid);
  });
});
