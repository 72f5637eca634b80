import { open } from 'node:fs/promises';

/**
 * Group commit for directory entries: many renames share one fsync of the directory.
 * A caller's promise resolves only after an fsync that *started after* its request,
 * so its rename is durable; requests that arrive while one fsync runs share the next.
 */
export class DirectorySync {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly dir: string) {}

  sync(): Promise<void> {
    if (!this.running) {
      this.running = this.fsyncOnce().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    // One is under way and may have started before our rename: wait for the one after it.
    this.next ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.sync();
      });
    return this.next;
  }

  private async fsyncOnce(): Promise<void> {
    const handle = await open(this.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
