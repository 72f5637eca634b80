import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

/** Writes every byte: writev may write fewer than asked (a full disk, a signal). */
async function writeAll(handle: FileHandle, chunks: readonly Buffer[]): Promise<void> {
  let pending = chunks.filter((chunk) => chunk.length > 0);
  while (pending.length > 0) {
    const { bytesWritten } = await handle.writev(pending);
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const chunk of pending) {
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      rest.push(skip > 0 ? chunk.subarray(skip) : chunk);
      skip = 0;
    }
    if (rest.length === pending.length && bytesWritten === 0) throw new Error('write made no progress');
    pending = rest;
  }
}

/**
 * A Writable over a FileHandle whose end means durable: _final fdatasyncs before 'finish'.
 * (fs write streams fsync nothing, and FileHandle.createWriteStream with autoClose: false
 * keeps the handle referenced so it can never be closed.)
 */
export class DurableFileStream extends Writable {
  constructor(private readonly handle: FileHandle) {
    super({ highWaterMark: 64 * 1024 });
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    writeAll(
      this.handle,
      chunks.map((c) => c.chunk),
    ).then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.handle.datasync().then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }
}
