import { describe, expect, it } from 'vitest';
import { AuthThrottle } from '../../../src/auth/throttle.js';

const settings = { baseDelayMs: 250, maxDelayMs: 10_000, forgetAfterSeconds: 900 };

function throttleAt(start = 0): { throttle: AuthThrottle; clock: { now: number } } {
  const clock = { now: start };
  return { throttle: new AuthThrottle(settings, () => clock.now), clock };
}

describe('AuthThrottle', () => {
  it.each([
    [0, 0, 'no failure, no delay'],
    [1, 250, 'the base delay'],
    [3, 1000, 'doubling per failure'],
    [6, 8000, '250 * 2^5'],
    [7, 10_000, 'capped at maxDelayMs'],
  ])('delay after %i failures is %i ms (%s)', (failures, delay) => {
    expect(throttleAt().throttle.delay(failures)).toBe(delay);
  });

  it('a clean address is checked at once', () => {
    expect(throttleAt().throttle.reserve('192.0.2.1', 'alice')).toEqual({ kind: 'check', waitMs: 0 });
  });

  it('spaces the attempts of a failing address one after another, then refuses past maxDelayMs', () => {
    const { throttle } = throttleAt();
    for (let n = 0; n < 6; n++) throttle.failed('192.0.2.1', 'alice'); // next allowed at 8000
    expect(throttle.reserve('192.0.2.1', 'alice')).toEqual({ kind: 'check', waitMs: 8000 });
    // Its turn would be at 16 000 ms, past the 10 s cap: refused unchecked after 10 s.
    expect(throttle.reserve('192.0.2.1', 'alice')).toEqual({ kind: 'refuse', waitMs: 10_000 });
  });

  it('slows an account only for addresses that have failed themselves', () => {
    const { throttle } = throttleAt();
    for (let n = 0; n < 5; n++) throttle.failed(`198.51.100.${String(n)}`, 'alice');
    expect(throttle.reserve('203.0.113.9', 'alice')).toEqual({ kind: 'check', waitMs: 0 });
    // 198.51.100.0 failed once (its own delay 250) but alice failed 5 times (4000).
    expect(throttle.reserve('198.51.100.0', 'alice')).toEqual({ kind: 'check', waitMs: 4000 });
  });

  it('a success resets the address and the account', () => {
    const { throttle } = throttleAt();
    for (let n = 0; n < 4; n++) throttle.failed('192.0.2.1', 'alice');
    throttle.succeeded('192.0.2.1', 'alice');
    expect(throttle.reserve('192.0.2.1', 'alice')).toEqual({ kind: 'check', waitMs: 0 });
  });

  it('forgets failures forgetAfterSeconds after the last one', () => {
    const { throttle, clock } = throttleAt();
    for (let n = 0; n < 4; n++) throttle.failed('192.0.2.1', 'alice');
    clock.now += 901_000;
    expect(throttle.reserve('192.0.2.1', 'alice')).toEqual({ kind: 'check', waitMs: 0 });
  });

  it('baseDelayMs 0 turns it off', () => {
    const clock = { now: 0 };
    const off = new AuthThrottle({ ...settings, baseDelayMs: 0 }, () => clock.now);
    for (let n = 0; n < 10; n++) off.failed('192.0.2.1', 'alice');
    expect(off.reserve('192.0.2.1', 'alice')).toEqual({ kind: 'check', waitMs: 0 });
  });
});
