/**
 * Relay mode with `captureDomains`: recipients in those domains are kept, not delivered.
 * Before the 250, a relayed message with such recipients gets a captured copy addressed to
 * them alone (a spool message of its own, so the sink shows it, release sends it, retention
 * prunes it); the delivery worker goes on with the other recipients and then removes the
 * original, its captured recipients being handed over here.
 */
import { pipeline } from 'node:stream/promises';
import { addressDomain } from '../pipeline/stages.js';
import type { Envelope } from '../spool/envelope.js';
import { newQueueId } from '../spool/queue-id.js';
import type { Spool } from '../spool/spool.js';

export function capturedRecipients(
  envelope: Envelope,
  captureDomains: ReadonlySet<string>,
): Envelope['rcptTo'] {
  return envelope.rcptTo.filter((rcpt) => captureDomains.has(addressDomain(rcpt.address)));
}

/** Registers the copy-on-commit; returns the unsubscribe. */
export function captureRelayedCopies(spool: Spool, domains: readonly string[]): () => void {
  const captureDomains = new Set(domains.map((domain) => addressDomain(`x@${domain}`)));
  return spool.onCommitted(async (envelope) => {
    if (envelope.state !== 'queued' || envelope.route === 'release') return;
    const rcptTo = capturedRecipients(envelope, captureDomains);
    if (rcptTo.length === 0) return;
    const id = newQueueId();
    const writer = await spool.begin(id);
    try {
      await pipeline(spool.readMessage(envelope), writer.stream, { end: false });
      // Its own commit: durable, then indexed by the sink, all before the original's 250.
      await writer.commit({ ...envelope, id, rcptTo, state: 'captured' });
    } catch (error) {
      await writer.abort();
      throw error;
    }
  });
}
