import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

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
    this.handle.writev(chunks.map((c) => c.chunk)).then(
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
