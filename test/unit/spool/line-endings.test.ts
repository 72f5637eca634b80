import { describe, expect, it } from 'vitest';
import { LineEndingNormalizer } from '../../../src/spool/line-endings.js';

interface Normalised {
  readonly out: string;
  readonly bare: number;
  readonly bytesOut: number;
  readonly outputLength: number;
}

/** Writes each chunk to the Transform in turn, ends it, and collects what comes out. */
async function normalise(chunks: readonly string[]): Promise<Normalised> {
  const normalizer = new LineEndingNormalizer();
  const pieces: Buffer[] = [];
  normalizer.on('data', (piece: Buffer) => pieces.push(piece));
  const ended = new Promise<void>((resolve, reject) => {
    normalizer.once('end', resolve);
    normalizer.once('error', reject);
  });
  for (const chunk of chunks) normalizer.write(Buffer.from(chunk, 'latin1'));
  normalizer.end();
  await ended;
  const out = Buffer.concat(pieces);
  return {
    out: out.toString('latin1'),
    bare: normalizer.bareLineEndings,
    bytesOut: normalizer.bytesOut,
    outputLength: out.length,
  };
}

/** Every way of cutting `input` in two, plus one byte per chunk. */
function splits(input: string): string[][] {
  const cuts = Array.from({ length: input.length + 1 }, (_, at) => [input.slice(0, at), input.slice(at)]);
  return [...cuts, Array.from({ length: input.length }, (_, at) => input.charAt(at))];
}

describe('LineEndingNormalizer', () => {
  it.each([
    // chunks as written, expected output, bare CR/LF count, why
    [['a\r\nb\r\n'], 'a\r\nb\r\n', 0, 'CRLF passes untouched'],
    [['\r\n\r\n'], '\r\n\r\n', 0, 'empty lines are CRLFs too'],
    [['no line ending'], 'no line ending', 0, 'text without line endings passes untouched'],
    [['a\nb\n'], 'a\r\nb\r\n', 2, 'bare LF becomes CRLF'],
    [['\n'], '\r\n', 1, 'a bare LF as the very first byte'],
    [['a\rb\r\n'], 'a\r\nb\r\n', 1, 'bare CR becomes CRLF'],
    [['a\r\r\n'], 'a\r\n\r\n', 1, 'CR CR LF is a bare CR then a CRLF'],
    [['a\n\r'], 'a\r\n\r\n', 2, 'LF CR is two bare line endings, not a reversed CRLF'],
    [['a\r', '\nb'], 'a\r\nb', 0, 'CR at one chunk’s end and LF at the next’s start is one CRLF'],
    [['a\r', '\r\nb'], 'a\r\n\r\nb', 1, 'CR at a chunk end followed by a CRLF'],
    [['a\r', 'b'], 'a\r\nb', 1, 'CR at a chunk end followed by a non-LF is bare'],
    [['a\r', '\r', '\nb'], 'a\r\n\r\nb', 1, 'a pending CR meeting another pending CR'],
    [['a\r', '', '\nb'], 'a\r\nb', 0, 'an empty write between CR and LF changes nothing'],
    [['a\r'], 'a\r\n', 1, 'a lone CR at the very end of input is bare'],
    [['a', '\r'], 'a\r\n', 1, 'likewise when it is a chunk of its own'],
    [['x\n.\r\ny'], 'x\r\n.\r\ny', 1, '<LF>.<CR><LF> (SMTP smuggling) leaves only a normal dot line'],
    [['x\r.\r\ny'], 'x\r\n.\r\ny', 1, '<CR>.<CR><LF> likewise'],
    [['x\n', '.\r\n'], 'x\r\n.\r\n', 1, 'the smuggling sequence split across chunks'],
    [['x\r', '.\r\n'], 'x\r\n.\r\n', 1, 'the CR variant split across chunks'],
    [['é\n'], 'é\r\n', 1, '8-bit bytes pass through unchanged'],
    [[], '', 0, 'no input, no output'],
  ] as const)('%j -> %j (%i bare): %s', async (chunks, expected, bare, _why) => {
    const result = await normalise(chunks);
    expect(result.out).toBe(expected);
    expect(result.bare).toBe(bare);
    expect(result.bytesOut).toBe(result.outputLength);
    expect(result.bytesOut).toBe(Buffer.byteLength(expected, 'latin1'));
  });

  it.each([
    // input, why
    ['Subject: x\r\n\r\nbody\r\n', 'a clean message'],
    ['a\rb\nc\r\nd\r', 'every kind of line ending'],
    ['\r\r\n\n\r\n\r', 'line endings only'],
    ['x\n.\r\nMAIL FROM:<a@b>\r\n', 'a smuggling attempt'],
  ])('where the chunks are cut does not change the result: %j (%s)', async (input, _why) => {
    const whole = await normalise([input]);
    for (const chunks of splits(input)) {
      const result = await normalise(chunks);
      expect({ chunks, ...result }).toEqual({ chunks, ...whole });
    }
  });

  it('never emits a bare CR or LF, whatever it is given', async () => {
    const input = 'a\rb\nc\r\n\r\rd\n\ne\r';
    for (const chunks of splits(input)) {
      const { out } = await normalise(chunks);
      expect(out.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    }
  });
});
