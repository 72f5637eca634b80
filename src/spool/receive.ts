import type { Readable } from 'node:stream';
import { HopCounter } from './hop-counter.js';
import { LineEndingNormalizer } from './line-endings.js';
import { stripNul } from './nul-bytes.js';
import type { SpoolWriter } from './spool.js';

export type ReceiveOutcome =
  | {
      readonly kind: 'stored';
      readonly bareLineEndings: number;
      /** NUL bytes removed (never stored). */
      readonly nulBytes: number;
      readonly bytes: number;
      readonly hops: number;
    }
  | { readonly kind: 'too-big' }
  | { readonly kind: 'write-failed'; readonly error: Error }
  /** The client went away before the end of DATA. */
  | { readonly kind: 'aborted' };

/**
 * Streams DATA into a spool writer: our header first, then the client's bytes with bare
 * CR/LF normalised. Back-pressure from the disk pauses the socket, so memory per session
 * stays at a few buffers whatever the size. Past `maxSize` nothing more is written, but
 * the rest is read and dropped so the session can answer once DATA ends.
 * Resolves when the client's DATA has ended and every byte kept is handed to the file.
 */
export function receiveMessage(
  data: Readable & { sizeExceeded?: boolean },
  writer: Pick<SpoolWriter, 'stream'>,
  header: string,
  maxSize: number,
): Promise<ReceiveOutcome> {
  return new Promise((resolve) => {
    const normalizer = new LineEndingNormalizer();
    const hops = new HopCounter();
    let received = 0;
    let nulBytes = 0;
    let stopped: ReceiveOutcome | undefined;

    const stop = (outcome: ReceiveOutcome): void => {
      if (stopped) return;
      stopped = outcome;
      normalizer.unpipe(writer.stream);
      data.resume();
    };

    writer.stream.on('error', (error: Error) => {
      stop({ kind: 'write-failed', error });
    });
    writer.stream.write(header);
    normalizer.pipe(writer.stream, { end: false });
    normalizer.on('drain', () => {
      if (!stopped) data.resume();
    });

    data.on('data', (chunk: Buffer) => {
      if (stopped) return;
      received += chunk.length;
      if (received > maxSize || data.sizeExceeded === true) {
        stop({ kind: 'too-big' });
        return;
      }
      const clean = stripNul(chunk);
      nulBytes += clean.removed;
      hops.feed(clean.chunk);
      if (!normalizer.write(clean.chunk)) data.pause();
    });

    let ended = false;
    const abandon = (): void => {
      if (ended) return;
      stop({ kind: 'aborted' });
      resolve({ kind: 'aborted' });
    };
    data.once('error', abandon);
    data.once('close', abandon);
    data.once('end', () => {
      ended = true;
      if (stopped) {
        resolve(stopped);
        return;
      }
      // A write that fails from here on must still answer the client.
      writer.stream.once('error', (error: Error) => {
        normalizer.destroy();
        resolve({ kind: 'write-failed', error });
      });
      normalizer.once('end', () => {
        resolve(
          stopped ?? {
            kind: 'stored',
            bareLineEndings: normalizer.bareLineEndings,
            nulBytes,
            bytes: Buffer.byteLength(header) + normalizer.bytesOut,
            hops: hops.hops,
          },
        );
      });
      normalizer.end();
    });
  });
}
