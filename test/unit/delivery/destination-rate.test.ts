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

describe('DestinationRate connection limits', () => {
  const limits = [
    { domains: ['conn.test'], connectionsPerMinute: 2 },
    { domains: ['cap.test'], maxConnections: 3 },
    { domains: ['both.test', '*.both.test'], connectionsPerMinute: 1, maxConnections: 2 },
    { domains: ['msgs.test'], messagesPerMinute: 1 },
  ];
  // Each row: the clock, the domain, what is asked, the answer; rows run in order on one limiter.
  const rows: [number, string, 'connect' | 'max' | 'message', number | undefined, string][] = [
    [0, 'conn.test', 'connect', undefined, 'first connection of the minute'],
    [10_000, 'CONN.test', 'connect', undefined, 'second: the domain is matched without case'],
    [20_000, 'conn.test', 'connect', 40_000, 'third waits until the first leaves the window'],
    [20_000, 'conn.test', 'message', undefined, 'a connection limit does not limit messages'],
    [20_000, 'conn.test', 'max', undefined, 'no cap on open connections unless given'],
    [20_000, 'cap.test', 'max', 3, 'the cap is passed to the pool'],
    [20_000, 'both.test', 'connect', undefined, 'first of both.test'],
    [20_000, 'a.both.test', 'connect', undefined, 'a subdomain counts on its own'],
    [30_000, 'both.test', 'connect', 50_000, 'second of both.test waits'],
    [30_000, 'both.test', 'max', 2, 'and its cap'],
    [60_000, 'conn.test', 'connect', undefined, 'the first left the window at 60 s'],
    [80_000, 'both.test', 'connect', undefined, 'the window moved on'],
    [80_000, 'other.test', 'connect', undefined, 'an unlisted domain is free'],
  ];
  it('answers as the table says', () => {
    let now = 0;
    const rate = new DestinationRate(limits, () => now);
    for (const [at, domain, ask, expected, why] of rows) {
      now = at;
      const connection = rate.connectionLimits(domain);
      const got =
        ask === 'connect'
          ? connection?.takeConnection?.()
          : ask === 'max'
            ? connection?.maxConnections
            : rate.take(domain);
      expect(got, `${String(at)} ${domain} ${ask}: ${why}`).toBe(expected);
    }
  });

  it('gives no connection limits to a domain whose entry sets only messages, or none', () => {
    const rate = new DestinationRate(limits, () => 0);
    expect(rate.connectionLimits('msgs.test')).toBeUndefined();
    expect(rate.connectionLimits('other.test')).toBeUndefined();
    expect(rate.connectionLimits('cap.test')?.takeConnection).toBeUndefined();
  });
});
