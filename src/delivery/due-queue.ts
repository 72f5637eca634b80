/**
 * When each queued message is next due, as a binary min-heap: taking what is due costs
 * O(k log n), not a sort of the whole queue after every attempt. A reschedule pushes a new
 * entry; the old one is skipped when it surfaces (lazy deletion), and the heap is rebuilt
 * when stale entries outnumber live ones.
 */
interface Entry {
  readonly id: string;
  readonly at: number;
}

export class DueQueue {
  private heap: Entry[] = [];
  private readonly current = new Map<string, number>();

  get size(): number {
    return this.current.size;
  }

  has(id: string): boolean {
    return this.current.has(id);
  }

  ids(): IterableIterator<string> {
    return this.current.keys();
  }

  set(id: string, at: number): void {
    this.current.set(id, at);
    this.push({ id, at });
    if (this.heap.length > 2 * this.current.size + 64) this.rebuild();
  }

  delete(id: string): void {
    this.current.delete(id);
  }

  /** The earliest due time, or undefined when empty. */
  peek(): number | undefined {
    this.dropStale();
    return this.heap[0]?.at;
  }

  /** Takes (removes) up to `limit` ids due at `now`, earliest first. */
  takeDue(now: number, limit: number): string[] {
    const taken: string[] = [];
    while (taken.length < limit) {
      this.dropStale();
      const top = this.heap[0];
      if (!top || top.at > now) break;
      this.pop();
      this.current.delete(top.id);
      taken.push(top.id);
    }
    return taken;
  }

  private dropStale(): void {
    for (let top = this.heap[0]; top && this.current.get(top.id) !== top.at; top = this.heap[0]) this.pop();
  }

  private rebuild(): void {
    this.heap = [];
    for (const [id, at] of this.current) this.push({ id, at });
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = heap[parent];
      if (!above || above.at <= entry.at) break;
      heap[i] = above;
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (!last || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const leftEntry = heap[left];
      const rightEntry = heap[right];
      const child = rightEntry && leftEntry && rightEntry.at < leftEntry.at ? right : left;
      const childEntry = heap[child];
      if (!childEntry || childEntry.at >= last.at) break;
      heap[i] = childEntry;
      i = child;
    }
    heap[i] = last;
  }
}
