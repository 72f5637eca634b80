import { describe, expect, it } from 'vitest';
import { DestinationRate, holdText, type RateKind } from '../../../src/delivery/destination-rate.js';

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

  it('a message given back (it did not go) frees its unit for the next', () => {
    const rate = new DestinationRate([{ domains: ['slow.test'], messagesPerMinute: 1 }], () => 0);
    expect(rate.take('slow.test')).toBeUndefined();
    rate.giveBack('SLOW.test');
    expect(rate.take('slow.test')).toBeUndefined();
    expect(rate.take('slow.test')).toBe(60_000);
    rate.giveBack('fast.test'); // no limit: nothing to give back
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

describe('holdText: the 4.7.0 text of a held delivery names the limit, its value and unit', () => {
  it.each<[RateKind, string, number | undefined, number, string, string]>([
    [
      'message',
      'slow.test',
      2,
      50_000,
      'message rate limit for slow.test reached (2 messages per minute); next try in 50 s',
      'messagesPerMinute, with its unit',
    ],
    [
      'connection',
      'conn.test',
      10,
      40_000,
      'connection rate limit for conn.test reached (10 new connections per minute); next try in 40 s',
      'connectionsPerMinute counts new connections, not reused ones',
    ],
    [
      'message',
      'slow.test',
      1,
      1,
      'message rate limit for slow.test reached (1 message per minute); next try in 1 s',
      'one is singular; a wait under a second is rounded up, never "next try in 0 s"',
    ],
    [
      'connection',
      'conn.test',
      1,
      60_000,
      'connection rate limit for conn.test reached (1 new connection per minute); next try in 60 s',
      'singular connection',
    ],
    [
      'message',
      'slow.test',
      undefined,
      59_001,
      'message rate limit for slow.test reached; next try in 60 s',
      'no entry any more (not reached in practice): no made-up figure',
    ],
  ])('%s %s %s %s', (kind, domain, perMinute, waitMs, text) => {
    expect(holdText(kind, domain, perMinute, waitMs)).toBe(text);
  });

  it('reads the limit that held the domain from the first matching entry', () => {
    const rate = new DestinationRate(
      [
        { domains: ['*.slow.test'], messagesPerMinute: 3, connectionsPerMinute: 7 },
        { domains: ['a.slow.test'], messagesPerMinute: 100 },
      ],
      () => 0,
    );
    expect(rate.perMinute('A.slow.test', 'message')).toBe(3);
    expect(rate.perMinute('a.slow.test', 'connection')).toBe(7);
    expect(rate.perMinute('other.test', 'message')).toBeUndefined();
  });
});
