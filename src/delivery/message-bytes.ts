/**
 * A queued message's bytes for one attempt. A small message is read whole, once, before the
 * attempt waits for a connection: the read then costs no time on the wire (a pooled
 * connection never waits on the disk), and the 8-bit check and the header come from that one
 * read. A larger message streams from the spool when it is sent, and is never whole in memory.
 */
import { Readable } from 'node:stream';
import type { Spool } from '../spool/spool.js';
import { hasEightBit, type EightBitParts } from './seven-bit.js';
import { sevenBitPlan } from './seven-bit-plans.js';

/** Messages up to this size are read whole (the worker's active messages times this is the memory it costs). */
export const READ_WHOLE_BYTES = 64 * 1024;

export interface MessageBytes {
  /** A fresh stream of the message's bytes, on each call. */
  readonly open: () => Readable;
  /** The header block, as UTF-8. */
  readonly header: () => Promise<string>;
  /** The message has 8-bit bytes (streams a large message through, up to its first one). */
  readonly eightBit: () => Promise<boolean>;
  /** The whole message, when it was read whole. */
  readonly whole?: Buffer;
  /** Which parts have 8-bit bodies, for a message that streams (see OutboundMessage). */
  readonly sevenBitPlan?: () => Promise<EightBitParts>;
}

export async function messageBytes(
  spool: Spool,
  message: { readonly id: string; readonly size: number },
): Promise<MessageBytes> {
  if (message.size > READ_WHOLE_BYTES) {
    return {
      open: () => spool.readMessage(message),
      header: () => spool.readHeader(message),
      eightBit: () => streamHasEightBit(spool.readMessage(message)),
      sevenBitPlan: () => sevenBitPlan(spool, message),
    };
  }
  const whole = await spool.readBytes(message);
  return {
    whole,
    open: () => Readable.from([whole], { objectMode: false }),
    header: () => Promise.resolve(headerOf(whole)),
    eightBit: () => Promise.resolve(hasEightBit(whole)),
  };
}

/** Reads until the first 8-bit byte, a chunk at a time: a large message is never whole in memory. */
async function streamHasEightBit(stream: Readable): Promise<boolean> {
  // Leaving the loop early (return) destroys the stream.
  for await (const chunk of stream) if (hasEightBit(chunk as Buffer)) return true;
  return false;
}

/** The header block of a message in memory (up to and with the CRLF before the empty line). */
function headerOf(message: Buffer): string {
  const end = message.indexOf('\r\n\r\n');
  return message.subarray(0, end >= 0 ? end + 2 : message.length).toString('utf8');
}
