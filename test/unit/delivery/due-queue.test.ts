import { describe, expect, it } from 'vitest';
import { DueQueue } from '../../../src/delivery/due-queue.js';

describe('DueQueue', () => {
  it('takes what is due, earliest first, at most the limit', () => {
    const due = new DueQueue();
    for (const [id, at] of [
      ['c', 30],
      ['a', 10],
      ['d', 40],
      ['b', 20],
    ] as const)
      due.set(id, at);
    expect(due.takeDue(25, 10)).toEqual(['a', 'b']);
    expect(due.takeDue(100, 1)).toEqual(['c']);
    expect(due.peek()).toBe(40);
    expect(due.size).toBe(1);
  });

  it('a reschedule replaces the earlier time; a delete removes it', () => {
    const due = new DueQueue();
    due.set('a', 10);
    due.set('b', 20);
    due.set('a', 50);
    due.delete('b');
    expect(due.takeDue(30, 10)).toEqual([]);
    expect(due.peek()).toBe(50);
    expect(due.takeDue(50, 10)).toEqual(['a']);
    expect(due.peek()).toBeUndefined();
  });

  it('stays ordered through many random reschedules (checked against a sort)', () => {
    const due = new DueQueue();
    const expected = new Map<string, number>();
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 5000; i++) {
      const id = `m${String(Math.floor(random() * 500))}`;
      const at = Math.floor(random() * 10_000);
      due.set(id, at);
      expected.set(id, at);
    }
    const order = [...expected].sort((a, b) => a[1] - b[1]).map(([, at]) => at);
    const taken = due.takeDue(Infinity, Infinity).map((id) => expected.get(id));
    expect(taken).toEqual(order);
  });
});
