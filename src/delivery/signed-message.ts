/**
 * A message as it leaves with its DKIM signature: the stored signature header, then the
 * message's bytes — converted to 7-bit first when it has 8-bit bytes, so the signed form is
 * the one every hop can take and no downgrade on the way can break the body hash (RFC 6376
 * §5.3). With an empty signature it is the form to sign. Either form streams from the spool:
 * a large message is never whole in memory.
 */
import { Readable } from 'node:stream';
import type { Envelope } from '../spool/envelope.js';
import type { Spool } from '../spool/spool.js';
import type { OutboundMessage } from './courier.js';
import { sevenBitStream } from './seven-bit.js';
import { sevenBitConversion } from './seven-bit-plans.js';

/** As far as Spool.readHeader looks for the end of a header block. */
const HEADER_LIMIT = 256 * 1024;

export async function signedMessage(
  spool: Spool,
  envelope: Envelope,
  signature: string,
  eightBit: boolean,
): Promise<OutboundMessage> {
  const prefix = Buffer.from(signature, 'utf8');
  const stored = () => spool.readMessage(envelope);
  const conversion = eightBit ? await sevenBitConversion(spool, envelope) : undefined;
  const parts = conversion?.parts;
  const body = parts ? () => sevenBitStream(stored(), parts) : stored;
  const size = prefix.length + (conversion?.size ?? envelope.size);
  return {
    envelope: { ...envelope, size },
    open: () =>
      Readable.from(
        (async function* () {
          if (prefix.length > 0) yield prefix;
          yield* body();
        })(),
      ),
    header: async () => signature + (parts ? await streamHeader(body()) : await spool.readHeader(envelope)),
    eightBit: false,
  };
}

/** The header block at the start of a stream (up to and with the CRLF before the empty line). */
async function streamHeader(stream: Readable): Promise<string> {
  let head = Buffer.alloc(0);
  // Leaving the loop early destroys the stream: only the header is read.
  for await (const chunk of stream) {
    head = Buffer.concat([head, chunk as Buffer]);
    if (head.includes('\r\n\r\n') || head.length >= HEADER_LIMIT) break;
  }
  const end = head.subarray(0, HEADER_LIMIT).indexOf('\r\n\r\n');
  return head.subarray(0, end >= 0 ? end + 2 : HEADER_LIMIT).toString('utf8');
}
