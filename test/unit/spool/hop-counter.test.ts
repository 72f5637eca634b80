import { describe, expect, it } from 'vitest';
import { HopCounter } from '../../../src/spool/hop-counter.js';

function count(chunks: readonly string[]): number {
  const counter = new HopCounter();
  for (const chunk of chunks) counter.feed(Buffer.from(chunk, 'latin1'));
  return counter.hops;
}

describe('HopCounter', () => {
  it.each([
    [['Received: a\r\nReceived: b\r\nSubject: x\r\n\r\nbody'], 2, 'two in the header'],
    [['received: a\r\nRECEIVED: b\r\n\r\n'], 2, 'case-insensitive'],
    [['Subject: x\r\n\r\nReceived: in the body\r\n'], 0, 'the body does not count'],
    [['Rece', 'ived: split\r\n', '\r\n'], 1, 'a field name split across chunks'],
    [['X-Received: no\r\n\tReceived: folded, not a field\r\n\r\n'], 0, 'only fields that start a line'],
    [['Received: a\nReceived: b\n\n'], 2, 'bare LF line ends (normalised later)'],
  ] as const)('%j -> %i (%s)', (chunks, hops, _why) => {
    expect(count(chunks)).toBe(hops);
  });
});
