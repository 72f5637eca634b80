/**
 * A message as it leaves with its DKIM signature: the stored signature header, then the
 * message's bytes — converted to 7-bit first when it has 8-bit bytes, so the signed form is
 * the one every hop can take and no downgrade on the way can break the body hash (RFC 6376
 * §5.3). With an empty signature it is the form to sign.
 */
import { Readable } from 'node:stream';
import type { Envelope } from '../spool/envelope.js';
import type { Spool } from '../spool/spool.js';
import type { OutboundMessage } from './courier.js';
import { headerOf } from './message-bytes.js';
import { toSevenBit } from './seven-bit.js';

export async function signedMessage(
  spool: Spool,
  envelope: Envelope,
  signature: string,
  eightBit: boolean,
): Promise<OutboundMessage> {
  const prefix = Buffer.from(signature, 'utf8');
  // Only 8-bit messages are read whole (toSevenBit works in memory); the rest stream.
  const body = eightBit ? toSevenBit(await spool.readBytes(envelope, envelope.size)) : undefined;
  const size = prefix.length + (body?.length ?? envelope.size);
  return {
    envelope: { ...envelope, size },
    open: () =>
      Readable.from(
        (async function* () {
          if (prefix.length > 0) yield prefix;
          if (body) yield body;
          else yield* spool.readMessage(envelope);
        })(),
      ),
    header: async () => signature + (body ? headerOf(body) : await spool.readHeader(envelope)),
    eightBit: false,
  };
}
