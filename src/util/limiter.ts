/**
 * Runs at most `concurrency` tasks at once; the rest wait their turn, first come first served.
 * `peak` records the most that ever ran together, so a test can prove the bound holds.
 */
export class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  peak = 0;

  constructor(private readonly concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError('concurrency must be a positive integer');
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running++;
    this.peak = Math.max(this.peak, this.running);
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}
