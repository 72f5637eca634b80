import { describe, expect, it } from 'vitest';
import { policySchema } from '../../../src/config/schema.js';
import { checkConnect } from '../../../src/pipeline/stages.js';
import {
  dataDeadlineMs,
  idleTimeoutMs,
  isStressed,
  pickEvictable,
  unauthenticatedLimit,
} from '../../../src/pipeline/stress.js';
import { accept, reject } from '../../../src/pipeline/verdict.js';
import { replies } from '../../../src/smtp/replies.js';

const limits = policySchema.parse({}).limits;

describe('listener defence, default limits (200 sessions, 20 per client)', () => {
  it('leaves a quarter of the slots to trusted and authenticated clients', () => {
    expect(unauthenticatedLimit(limits)).toBe(150);
    expect(unauthenticatedLimit({ ...limits, maxUnauthenticatedConnections: 10 })).toBe(10);
  });

  it.each([
    // open sessions, strangers, stressed, why
    [10, 10, false, 'a quiet listener'],
    [159, 0, false, 'just under 80 % of maxConnections, all trusted'],
    [160, 0, true, '80 % of maxConnections'],
    [120, 120, true, '80 % of the strangers share'],
    [119, 119, false, 'just under it'],
  ] as const)('open %i, strangers %i -> stressed %s (%s)', (open, strangers, stressed, _why) => {
    expect(isStressed(limits, open, strangers)).toBe(stressed);
  });

  it.each([
    // stressed, bytes, idle ms, DATA deadline ms, why
    [false, 0, 300_000, 300_000, 'RFC 5321 §4.5.3.2 timeout'],
    [true, 0, 10_000, 10_000, "Postfix's ${stress?10}"],
    [true, 5000, 10_000, 20_000, '5000 bytes at 500 B/s add 10 s'],
  ] as const)('stressed %s, %i bytes -> idle %i, DATA %i (%s)', (stressed, bytes, idle, data, _why) => {
    expect(idleTimeoutMs(limits, stressed)).toBe(idle);
    expect(dataDeadlineMs(limits, stressed, bytes)).toBe(data);
  });

  it('minDataRate 0 turns the DATA deadline off', () => {
    expect(dataDeadlineMs({ ...limits, minDataRate: 0 }, true, 0)).toBe(Infinity);
  });

  it.each([
    // counts, verdict, why
    [
      { listener: 151, client: 1, unauthenticated: 151, trusted: false },
      'full',
      'one stranger over the share',
    ],
    [
      { listener: 151, client: 1, unauthenticated: 0, trusted: true },
      'accept',
      'a trusted client takes the reserve',
    ],
    [
      { listener: 201, client: 1, unauthenticated: 0, trusted: true },
      'full',
      'the reserve ends at maxConnections',
    ],
    [
      { listener: 30, client: 21, unauthenticated: 30, trusted: false },
      'client',
      'per-client limit for strangers',
    ],
    [
      { listener: 30, client: 21, unauthenticated: 0, trusted: true },
      'accept',
      'trusted: exempt, as mynetworks',
    ],
  ] as const)('checkConnect(%j) -> %s (%s)', (counts, expected, _why) => {
    const verdicts = {
      accept,
      full: reject(replies.tooManyConnections),
      client: reject(replies.tooManyConnectionsFromClient),
    };
    expect(checkConnect(limits, counts)).toEqual(verdicts[expected]);
  });
});

describe('pickEvictable', () => {
  it.each([
    // candidates, chosen, why
    [[], undefined, 'nobody idle: nobody goes'],
    [
      [
        { id: 'a', idleSince: 200, inTransaction: false },
        { id: 'b', idleSince: 100, inTransaction: false },
      ],
      'b',
      'the longest idle',
    ],
    [
      [
        { id: 'a', idleSince: 100, inTransaction: true },
        { id: 'b', idleSince: 900, inTransaction: false },
      ],
      'b',
      'one sending mail stays before one only holding a slot',
    ],
  ] as const)('%j -> %s (%s)', (candidates, chosen, _why) => {
    expect(pickEvictable(candidates)).toBe(chosen);
  });
});
