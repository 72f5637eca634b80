import { describe, expect, it } from 'vitest';
import { pageNumbers } from '../../../ui/src/page-numbers.js';

describe('pageNumbers (0 is a gap)', () => {
  it.each([
    // why: one page has no pager at all, but the function still answers it
    [1, 1, [1]],
    // why: few pages are all shown
    [2, 5, [1, 2, 3, 4, 5]],
    // why: far from both ends, a gap on each side
    [10, 20, [1, 0, 8, 9, 10, 11, 12, 0, 20]],
    // why: at the start, only the gap before the last page
    [1, 9, [1, 2, 3, 0, 9]],
    // why: at the end
    [9, 9, [1, 0, 7, 8, 9]],
    // why: a gap of one page is still shown as a gap marker, never two in a row
    [5, 9, [1, 0, 3, 4, 5, 6, 7, 0, 9]],
  ])('page %i of %i', (current, count, expected) => {
    expect(pageNumbers(current, count)).toEqual(expected);
  });
});
