import { describe, expect, it } from 'vitest';
import { delimiterKind } from '../../../src/delivery/mime-delimiter.js';

describe('delimiterKind (RFC 2046 §5.1.1)', () => {
  it.each([
    // line, boundary, kind, why
    ['--b1', 'b1', 'delimiter', 'the delimiter'],
    ['--b1--', 'b1', 'close', 'the close delimiter'],
    ['--b1 \t ', 'b1', 'delimiter', 'transport padding after the delimiter'],
    ['--b1--  ', 'b1', 'close', 'transport padding after the close delimiter'],
    ['--b12', 'b1', undefined, 'a longer boundary that starts with this one (Postfix would match it)'],
    ['--b12--', 'b1', undefined, "the longer boundary's close delimiter"],
    ['--b1x', 'b1', undefined, 'text after the delimiter'],
    ['--b1 x', 'b1', undefined, 'text after padding'],
    ['--b1---', 'b1', undefined, 'a third dash'],
    ['--b1-', 'b1', undefined, 'one dash'],
    ['--b1-- x', 'b1', undefined, 'text after the close delimiter'],
    ['--b', 'b1', undefined, 'shorter than the delimiter'],
    ['-b1', 'b1', undefined, 'one leading dash'],
    [' --b1', 'b1', undefined, 'indented'],
    ['--B1', 'b1', undefined, 'boundaries are case-sensitive'],
    ['--=_a b--', '=_a b', 'close', 'a boundary with a space in it'],
    ['--=_a b', '=_a', undefined, 'a space then text is not padding'],
  ])('%j for boundary %j: %s (%s)', (line, boundary, kind, _why) => {
    expect(delimiterKind(Buffer.from(line, 'latin1'), Buffer.from(`--${boundary}`, 'latin1'))).toBe(kind);
  });
});
