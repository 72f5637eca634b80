/**
 * Peak resident memory of one process (VmRSS polled every 50 ms, and VmHWM at the end), or of
 * a process and all its descendants for a server made of several processes, such as Postfix's
 * master and its smtpd, cleanup and qmgr children: the sum of their proportional set sizes
 * (Pss, shared pages divided among the processes sharing them) at each poll, since a sum of
 * RSS would count the shared libraries once per process.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM' | 'Pss'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/${field === 'Pss' ? 'smaps_rollup' : 'status'}`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined; // the process is gone
  }
}

/** The process and every process below it, from each /proc/PID/stat's parent field. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows the command name, which is in parentheses and may hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const tree: number[] = [];
  const pending = [root];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    tree.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/**
 * Resets VmHWM (clear_refs 5, Linux 4.0+), so the peak is the measured load's and not the
 * warm-up's. Without permission the peak may include the warm-up; it is still an upper bound.
 */
function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // not ours to reset
  }
}

export class RssSampler {
  private peakKiB = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    private readonly tree = false,
  ) {
    if (!tree) resetPeak(pid);
    this.sample();
    this.timer = setInterval(() => {
      this.sample();
    }, 50);
  }

  private sample(): void {
    const kib = this.tree
      ? processTree(this.pid).reduce((sum, pid) => sum + (statusKiB(pid, 'Pss') ?? 0), 0)
      : (statusKiB(this.pid, 'VmRSS') ?? 0);
    this.peakKiB = Math.max(this.peakKiB, kib);
  }

  /** Stops polling; the peak in MiB (call while the process still runs, for VmHWM). */
  finish(): number {
    clearInterval(this.timer);
    this.sample();
    // A tree's peak is only as good as the polls: the children's VmHWM peaks need not coincide.
    const hwm = this.tree ? 0 : (statusKiB(this.pid, 'VmHWM') ?? 0);
    return Math.max(this.peakKiB, hwm) / 1024;
  }
}
