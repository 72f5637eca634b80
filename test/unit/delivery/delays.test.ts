import { describe, expect, it } from 'vitest';
import { postfixDelays } from '../../../src/delivery/delays.js';

const received = Date.UTC(2026, 0, 1);

describe('postfixDelays: Postfix delays=a/b/c/d, in seconds', () => {
  it.each([
    // why | started (ms after receipt) | handed over (ms after start) | courier timing | delays
    [
      'first attempt on a fresh connection',
      120,
      30,
      { waitMs: 0, connectMs: 45, sendMs: 80 },
      '0.12/0.03/0.05/0.08',
    ],
    [
      'a reused connection sets nothing up: c is 0',
      10,
      2,
      { waitMs: 0, connectMs: 0, sendMs: 9 },
      '0.01/0/0/0.01',
    ],
    [
      'waiting for a connection is in the queue manager (b)',
      0,
      5,
      { waitMs: 1500, connectMs: 3, sendMs: 20 },
      '0/1.51/0/0.02',
    ],
    [
      'a retry an hour later: the wait is before the queue manager (a)',
      3_600_000,
      1,
      { waitMs: 0, connectMs: 60, sendMs: 40 },
      '3600/0/0.06/0.04',
    ],
    ['no transaction (held back by a limit, DKIM failed): c and d are 0', 50, 4, undefined, '0.05/0/0/0'],
    [
      'a clock step backwards never logs a negative figure',
      -20,
      1,
      { waitMs: 0, connectMs: 0, sendMs: 1 },
      '0/0/0/0',
    ],
  ] as const)('%s', (_why, started, handedOver, timing, expected) => {
    const at = received + started;
    expect(postfixDelays(received, at, at + handedOver, timing)).toBe(expected);
  });
});
