import { describe, expect, it } from 'vitest';
import { ForgedResultsFilter } from '../../../src/smtp/inbound-auth.js';

const OURS = 'Authentication-Results: mx.test;\r\n\tspf=pass smtp.mailfrom=ceo@good.example\r\n';
const THEIRS = 'Authentication-Results: mx.upstream.example; spf=pass\r\n';
const HEAD = 'From: a@good.example\r\nSubject: hi\r\n';
const BODY = '\r\nAuthentication-Results: mx.test; in the body, kept\r\n';

/** Feeds `input` in pieces of `size` bytes (0: at every split point into two) and joins the output. */
function filtered(input: string, split: number[]): { output: string; removed: number } {
  const filter = new ForgedResultsFilter('mx.test');
  const bytes = Buffer.from(input, 'latin1');
  const out: Buffer[] = [];
  let at = 0;
  for (const end of [...split, bytes.length]) {
    out.push(filter.feed(bytes.subarray(at, end)));
    at = end;
  }
  out.push(filter.flush());
  return { output: Buffer.concat(out).toString('latin1'), removed: filter.removed };
}

describe('ForgedResultsFilter', () => {
  it.each<[string, string, string, number]>([
    ['ours removed, theirs kept, the body untouched', OURS + THEIRS + HEAD + BODY, THEIRS + HEAD + BODY, 1],
    ['ours last before the blank line', HEAD + OURS + BODY, HEAD + BODY, 1],
    ['two of ours', OURS + HEAD + OURS + BODY, HEAD + BODY, 2],
    ['none: the bytes as they came', THEIRS + HEAD + BODY, THEIRS + HEAD + BODY, 0],
    ['no body at all (flushed at the end)', HEAD + OURS, HEAD, 1],
    ['an empty header section', BODY, BODY, 0],
  ])('%s, however the chunks fall', (_why, input, expected, removed) => {
    for (let cut = 0; cut <= input.length; cut++) {
      expect(filtered(input, [cut]), `cut at ${String(cut)}`).toEqual({ output: expected, removed });
    }
    const everyByte = Array.from({ length: input.length - 1 }, (_, i) => i + 1);
    expect(filtered(input, everyByte)).toEqual({ output: expected, removed });
  });

  it('passes a header section over 256 KiB on unfiltered, holding no more than that', () => {
    const long = `X-Long: ${'x'.repeat(300 * 1024)}\r\n`;
    const filter = new ForgedResultsFilter('mx.test');
    const pieces = [OURS + long.slice(0, 200 * 1024), long.slice(200 * 1024), BODY];
    const out = pieces.map((piece) => filter.feed(Buffer.from(piece, 'latin1')));
    expect(out[0]?.length).toBe(0);
    expect(filter.overflowed).toBe(true);
    expect(Buffer.concat([...out, filter.flush()]).toString('latin1')).toBe(OURS + long + BODY);
  });
});
