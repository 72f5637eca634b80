import { describe, expect, it } from 'vitest';
import { deliverySchema } from '../../../src/config/schema.js';
import { expired, nextDelaySeconds } from '../../../src/delivery/backoff.js';

const retry = deliverySchema.parse({}).retry;
const noJitter = () => 0.5; // 1 + (0.5 * 0.2 - 0.1) = 1

describe('nextDelaySeconds (Postfix-like defaults)', () => {
  it.each([
    [1, 300], // first retry after 5 minutes
    [2, 600], // doubling
    [3, 1200],
    [4, 2400],
    [5, 4200], // capped at 70 minutes
    [20, 4200],
  ])('after %i failed attempts: %i s', (attempts, seconds) => {
    expect(nextDelaySeconds(attempts, retry, noJitter)).toBeCloseTo(seconds);
  });

  it('jitters by at most 10% either way', () => {
    expect(nextDelaySeconds(1, retry, () => 0)).toBeCloseTo(270);
    expect(nextDelaySeconds(1, retry, () => 0.999999)).toBeCloseTo(330);
  });
});

describe('expired', () => {
  it('gives up after 5 days by default', () => {
    const received = '2026-11-01T00:00:00.000Z';
    expect(expired(received, new Date('2026-11-05T23:59:59Z'), retry)).toBe(false);
    expect(expired(received, new Date('2026-11-06T00:00:00Z'), retry)).toBe(true);
  });
});
