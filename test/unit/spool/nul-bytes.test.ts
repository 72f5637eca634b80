import { describe, expect, it } from 'vitest';
import { stripNul } from '../../../src/spool/nul-bytes.js';

describe('stripNul', () => {
  it.each([
    // input, output, removed, why
    ['plain text', 'plain text', 0, 'nothing to do'],
    ['\r\n\x00.\r\n', '\r\n.\r\n', 1, 'the smuggling probe'],
    ['\x00a\x00\x00b\x00', 'ab', 4, 'at both ends and in a run'],
    ['\x00', '', 1, 'only a NUL'],
    ['', '', 0, 'an empty chunk'],
  ] as const)('%j -> %j (%s)', (input, output, removed, _why) => {
    const result = stripNul(Buffer.from(input, 'latin1'));
    expect(result.chunk.toString('latin1')).toBe(output);
    expect(result.removed).toBe(removed);
  });

  it('returns the same buffer when there is no NUL (no copy on the common path)', () => {
    const chunk = Buffer.from('hello\r\n');
    expect(stripNul(chunk).chunk).toBe(chunk);
  });
});
