import { describe, expect, it } from 'vitest';
import { DestinationRate } from '../../../src/delivery/destination-rate.js';

describe('DestinationRate', () => {
  it('lets N messages a minute through per domain, then says how long to wait; other domains are free', () => {
    let now = 0;
    const rate = new DestinationRate(
      [
        { domains: ['slow.test', '*.slow.test'], messagesPerMinute: 2 },
        { domains: ['slow.test'], messagesPerMinute: 100 }, // never reached: the first entry matches
      ],
      () => now,
    );
    expect(rate.take('slow.test')).toBeUndefined();
    now = 10_000;
    expect(rate.take('SLOW.test')).toBeUndefined();
    expect(rate.take('slow.test')).toBe(50_000); // the first leaves the window at 60 s
    expect(rate.take('a.slow.test')).toBeUndefined(); // each subdomain counts on its own
    expect(rate.take('fast.test')).toBeUndefined();
    now = 60_000;
    expect(rate.take('slow.test')).toBeUndefined();
    expect(rate.take('slow.test')).toBe(10_000);
  });

  it('takes one unit per distinct domain of a message', () => {
    const rate = new DestinationRate([{ domains: ['slow.test'], messagesPerMinute: 1 }], () => 0);
    expect(rate.takeFor(['slow.test', 'slow.test', 'fast.test'])).toEqual(new Map());
    expect(rate.takeFor(['slow.test', 'fast.test'])).toEqual(new Map([['slow.test', 60_000]]));
  });
});
