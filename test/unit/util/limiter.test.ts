import { describe, expect, it } from 'vitest';
import { Limiter, LimiterFullError } from '../../../src/util/limiter.js';

/** A task that finishes when told to, recording when it started. */
function gate(log: string[], name: string): { task: () => Promise<string>; open: () => void } {
  let open = (): void => undefined;
  const done = new Promise<void>((resolve) => {
    open = resolve;
  });
  return {
    task: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
      return name;
    },
    open: () => open(),
  };
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Limiter', () => {
  it.each([1, 2, 3])('runs at most %i at once, the rest first come first served', async (concurrency) => {
    const limiter = new Limiter(concurrency);
    const log: string[] = [];
    const gates = ['a', 'b', 'c', 'd', 'e'].map((name) => gate(log, name));
    const results = gates.map((g) => limiter.run(g.task));
    await settle();
    expect(log).toEqual(['a', 'b', 'c', 'd', 'e'].slice(0, concurrency).map((n) => `start ${n}`));
    expect(limiter.queued).toBe(5 - concurrency);
    for (const g of gates) {
      g.open();
      await settle();
    }
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(limiter.peak).toBe(concurrency);
    expect(log.filter((line) => line.startsWith('start'))).toEqual(
      ['a', 'b', 'c', 'd', 'e'].map((n) => `start ${n}`),
    );
  });

  it('past maxQueued waiting, run() refuses at once with LimiterFullError', async () => {
    const limiter = new Limiter(1, 2);
    const log: string[] = [];
    const gates = ['a', 'b', 'c'].map((name) => gate(log, name));
    const accepted = gates.map((g) => limiter.run(g.task));
    await expect(limiter.run(() => Promise.resolve('d'))).rejects.toBeInstanceOf(LimiterFullError);
    expect(limiter.queued).toBe(2);
    for (const g of gates) {
      g.open();
      await settle();
    }
    expect(await Promise.all(accepted)).toEqual(['a', 'b', 'c']);
    expect(await limiter.run(() => Promise.resolve('e'))).toBe('e');
  });

  it('a task that fails frees its place for the next', async () => {
    const limiter = new Limiter(1);
    const failing = limiter.run(() => Promise.reject(new Error('boom')));
    const next = limiter.run(() => Promise.resolve('next'));
    await expect(failing).rejects.toThrow('boom');
    expect(await next).toBe('next');
    expect(limiter.queued).toBe(0);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses concurrency %s', (concurrency) => {
    expect(() => new Limiter(concurrency)).toThrow(RangeError);
  });
});
