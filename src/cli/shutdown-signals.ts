/**
 * What a stop signal means, given the one that started the shutdown. A signal sent to a
 * process group reaches the server once from the group and once more from a parent that
 * forwards it (npm, pnpm, concurrently, tini), a moment apart: that repeat is the same
 * request, and taking it as "second signal: exit now" would skip removing the temporary
 * dev spool. A signal after the window (`shutdownRepeatWindowSeconds`, 1 s by default: a
 * person pressing Ctrl-C again because the stop hangs) or a different one still means exit now.
 */

export interface FirstSignal {
  readonly signal: NodeJS.Signals;
  /** Monotonic milliseconds (performance.now), so a wall-clock step cannot open or close the window. */
  readonly atMs: number;
}

export type SignalMeaning = 'stop' | 'repeat' | 'exit-now';

export function meaningOfSignal(
  first: FirstSignal | undefined,
  signal: NodeJS.Signals,
  atMs: number,
  windowMs: number,
): SignalMeaning {
  if (first === undefined) return 'stop';
  if (signal === first.signal && atMs - first.atMs <= windowMs) return 'repeat';
  return 'exit-now';
}
