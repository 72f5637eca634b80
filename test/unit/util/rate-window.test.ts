import { describe, expect, it } from 'vitest';
import { SlidingWindow } from '../../../src/util/rate-window.js';

describe('SlidingWindow', () => {
  it('allows the limit in any window, refuses past it with the wait until a unit leaves', () => {
    let now = 0;
    const window = new SlidingWindow(3, 60_000, () => now);
    expect(window.take('a')).toEqual({ ok: true }); // t=0
    now = 10_000;
    expect(window.take('a')).toEqual({ ok: true });
    now = 20_000;
    expect(window.take('a')).toEqual({ ok: true });
    expect(window.take('a')).toEqual({ ok: false, retryAfterMs: 40_000 }); // the t=0 unit leaves at 60 s
    expect(window.take('b')).toEqual({ ok: true }); // keys are separate
    now = 60_001;
    expect(window.take('a')).toEqual({ ok: true });
    expect(window.used('a')).toBe(3);
  });

  it('takes several units all or nothing (recipients of one message)', () => {
    let now = 0;
    const window = new SlidingWindow(10, 3_600_000, () => now);
    expect(window.take('u', 7)).toEqual({ ok: true });
    now = 1000;
    expect(window.take('u', 4)).toEqual({ ok: false, retryAfterMs: 3_599_000 });
    expect(window.used('u')).toBe(7); // a refusal takes nothing
    expect(window.take('u', 3)).toEqual({ ok: true });
    expect(window.take('v', 11)).toEqual({ ok: false, retryAfterMs: 3_600_000 }); // never fits
  });

  it('gives back the units taken last, so the next take fits again', () => {
    let now = 0;
    const window = new SlidingWindow(2, 60_000, () => now);
    expect(window.take('a')).toEqual({ ok: true });
    now = 1000;
    expect(window.take('a')).toEqual({ ok: true });
    window.giveBack('a');
    expect(window.used('a')).toBe(1);
    now = 2000;
    expect(window.take('a')).toEqual({ ok: true });
    // The unit kept is the first (t=0): the wait is until it leaves.
    expect(window.take('a')).toEqual({ ok: false, retryAfterMs: 58_000 });
    window.giveBack('b'); // nothing taken: nothing to give
    expect(window.used('b')).toBe(0);
  });

  it('never lets more than the limit through in any window, whatever the arrival pattern', () => {
    let now = 0;
    const window = new SlidingWindow(5, 1000, () => now);
    const accepted: number[] = [];
    let seed = 42;
    for (let i = 0; i < 5000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      now += seed % 97;
      if (window.take('k').ok) accepted.push(now);
    }
    for (let i = 5; i < accepted.length; i++)
      expect((accepted[i] ?? 0) - (accepted[i - 5] ?? 0)).toBeGreaterThanOrEqual(1000);
    expect(accepted.length).toBeGreaterThan(100);
  });
});
