/** Peak resident memory of one process: VmRSS polled every 50 ms, and VmHWM at the end. */
import { readFileSync } from 'node:fs';

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined; // the process is gone
  }
}

export class RssSampler {
  private peakKiB = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => {
      this.sample();
    }, 50);
  }

  private sample(): void {
    this.peakKiB = Math.max(this.peakKiB, statusKiB(this.pid, 'VmRSS') ?? 0);
  }

  /** Stops polling; the peak in MiB (call while the process still runs, for VmHWM). */
  finish(): number {
    clearInterval(this.timer);
    this.sample();
    const hwm = statusKiB(this.pid, 'VmHWM') ?? 0;
    return Math.max(this.peakKiB, hwm) / 1024;
  }
}
