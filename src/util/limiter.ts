/** The queue of a Limiter is full: the caller should refuse rather than wait. */
export class LimiterFullError extends Error {
  constructor() {
    super('too many tasks waiting');
    this.name = 'LimiterFullError';
  }
}

/**
 * Runs at most `concurrency` tasks at once; up to `maxQueued` more wait their turn, first come
 * first served, and beyond that run() rejects with LimiterFullError.
 * `peak` records the most that ever ran together, so a test can prove the bound holds.
 */
export class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  peak = 0;

  constructor(
    private readonly concurrency: number,
    private readonly maxQueued = Number.POSITIVE_INFINITY,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError('concurrency must be a positive integer');
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running < this.concurrency) {
      this.running++;
    } else {
      if (this.waiting.length >= this.maxQueued) throw new LimiterFullError();
      // Woken by a task that finished and handed its place straight to us (running unchanged),
      // so no newcomer can slip in between.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.peak = Math.max(this.peak, this.running);
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
