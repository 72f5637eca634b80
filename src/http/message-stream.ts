import { Readable } from 'node:stream';
import { RecordDamagedError } from '../spool/journal.js';
import { isErrno } from '../util/errno.js';

/**
 * A message's byte stream once its first chunk has been read, or undefined when that read
 * finds the message gone: its journal record damaged (the journal then quarantines and
 * removes it, and the sink drops its row), or its queue file deleted since it was looked up.
 * The caller answers 404 then, as for any message not there, not a 500 with no body.
 * A failure after the first chunk (damage at the end of a record larger than one read)
 * still cuts the reply short: its status has been sent by then.
 */
export async function startedMessageStream(stream: Readable): Promise<Readable | undefined> {
  const chunks: AsyncIterator<unknown> = stream[Symbol.asyncIterator]();
  let first: IteratorResult<unknown>;
  try {
    first = await chunks.next();
  } catch (error) {
    if (error instanceof RecordDamagedError || isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
  async function* all(): AsyncGenerator {
    try {
      for (let next = first; !next.done; next = await chunks.next()) yield next.value;
    } finally {
      // A reply cut short (the client went away): the source's descriptor is let go too.
      await chunks.return?.();
    }
  }
  return Readable.from(all(), { objectMode: false });
}
