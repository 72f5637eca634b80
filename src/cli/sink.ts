/** `mailwharf sink reindex`: rebuilds the captured-mail index from the spool's files. */
import type { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Config } from '../config/schema.js';
import { Sink } from '../sink/sink.js';
import { Spool } from '../spool/spool.js';

export class SinkUsageError extends Error {}

export async function sinkCommand(config: Config, args: readonly string[], out: Writable): Promise<number> {
  const [subcommand, ...extra] = args;
  if (subcommand !== 'reindex' || extra.length > 0) {
    throw new SinkUsageError(`unknown sink command "${args.join(' ')}"; try: sink reindex`);
  }
  // Takes the spool's lock: a running server holds it, and SpoolLockedError says so.
  const { spool } = await Spool.open(config.spool.dir);
  try {
    const started = Date.now();
    const { messages } = await Sink.reindex(spool, pino({ level: 'warn' }, process.stderr), config.sink);
    out.write(`reindexed ${String(messages)} captured messages in ${String(Date.now() - started)} ms\n`);
    return 0;
  } finally {
    await spool.close();
  }
}
