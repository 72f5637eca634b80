import { describe, expect, it } from 'vitest';
import { LineEndingNormalizer } from '../../../src/spool/line-endings.js';

async function normalise(chunks: readonly string[]): Promise<{ out: string; bare: number; bytes: number }> {
  const normalizer = new LineEndingNormalizer();
  const pieces: Buffer[] = [];
  normalizer.on('data', (chunk: Buffer) => pieces.push(chunk));
  const done = new Promise((resolve) => normalizer.on('end', resolve));
  for (const chunk of chunks) normalizer.write(Buffer.from(chunk, 'latin1'));
  normalizer.end();
  await done;
  const out = Buffer.concat(pieces);
  return { out: out.toString('latin1'), bare: normalizer.bareLineEndings, bytes: normalizer.bytesOut };
}

describe('LineEndingNormalizer', () => {
  it.each([
    // chunks, expected output, bare CR/LF count, why
    [['a\r\nb\r\n'], 'a\r\nb\r\n', 0, 'CRLF passes untouched'],
    [['a\nb\n'], 'a\r\nb\r\n', 2, 'bare LF becomes CRLF'],
    [['a\rb\r\n'], 'a\r\nb\r\n', 1, 'bare CR becomes CRLF'],
    [['a\r', '\nb'], 'a\r\nb', 0, 'CRLF split across chunks is one CRLF'],
    [['a\r', 'b'], 'a\r\nb', 1, 'CR at a chunk end followed by a non-LF is bare'],
    [['a\r'], 'a\r\n', 1, 'a lone CR at the very end is bare'],
    [['x\n.\r\ny'], 'x\r\n.\r\ny', 1, 'smuggling <LF>.<CR><LF> cannot survive as such'],
    [['x\r.\r\ny'], 'x\r\n.\r\ny', 1, 'smuggling <CR>.<CR><LF> likewise'],
    [['\r\n\r\n'], '\r\n\r\n', 0, 'empty lines'],
    [['é\n'], 'é\r\n', 1, '8-bit bytes pass through'],
  ])('%j -> %j (%i bare): %s', async (chunks, expected, bare) => {
    const result = await normalise(chunks);
    expect(result.out).toBe(expected);
    expect(result.bare).toBe(bare);
    expect(result.bytes).toBe(Buffer.byteLength(expected, 'latin1'));
  });
});
