import { describe, expect, it } from 'vitest';
import { meaningOfSignal, type FirstSignal } from '../../../src/cli/shutdown-signals.js';

describe('meaningOfSignal', () => {
  const sigint: FirstSignal = { signal: 'SIGINT', atMs: 10_000 };
  const sigterm: FirstSignal = { signal: 'SIGTERM', atMs: 10_000 };
  it.each<[string, FirstSignal | undefined, NodeJS.Signals, number, string]>([
    ['the first signal starts the stop', undefined, 'SIGINT', 10_000, 'stop'],
    ['the first SIGTERM starts the stop', undefined, 'SIGTERM', 0, 'stop'],
    ['Ctrl-C reaching npm and the server: the same instant', sigint, 'SIGINT', 10_000, 'repeat'],
    ['npm forwarding a group SIGTERM a moment later', sigterm, 'SIGTERM', 10_150, 'repeat'],
    ['still the same request at the edge of the window', sigint, 'SIGINT', 11_000, 'repeat'],
    ['a person pressing Ctrl-C again because the stop hangs', sigint, 'SIGINT', 11_001, 'exit-now'],
    ['long after', sigterm, 'SIGTERM', 70_000, 'exit-now'],
    ['a different signal is never a forwarded copy', sigterm, 'SIGINT', 10_010, 'exit-now'],
  ])('%s (the default window, 1 s)', (_why, first, signal, atMs, meaning) => {
    expect(meaningOfSignal(first, signal, atMs, 1000)).toBe(meaning);
  });

  it.each<[string, number, number, string]>([
    ['a wider window takes a late forwarder for a copy', 60_000, 40_000, 'repeat'],
    ['up to its edge', 60_000, 70_000, 'repeat'],
    ['and not past it', 60_000, 70_001, 'exit-now'],
    ['a window of 0: any later signal means exit now', 0, 10_001, 'exit-now'],
  ])('%s', (_why, windowMs, atMs, meaning) => {
    expect(meaningOfSignal(sigint, 'SIGINT', atMs, windowMs)).toBe(meaning);
  });
});
