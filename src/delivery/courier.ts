/**
 * The seam between the queue and the wire (chasquid's courier.Courier, maddy's
 * DeliveryTarget): the worker hands a message and its open recipients to a Courier and gets
 * an outcome per recipient back. The SMTP courier routes and speaks SMTP; tests pass a fake.
 */
import type { Readable } from 'node:stream';
import type { Envelope, Recipient } from '../spool/envelope.js';
import type { RecipientResult } from './outcome.js';

export interface OutboundMessage {
  readonly envelope: Envelope;
  /** A fresh stream of the message's bytes, on each call. */
  readonly open: () => Readable;
  /** The first bytes of the message (its header block), for decisions made before sending. */
  readonly header: () => Promise<string>;
  /** The body has 8-bit bytes. */
  readonly eightBit: boolean;
}

export interface Courier {
  /** Every recipient given gets exactly one result. Never rejects for a delivery problem. */
  deliver(message: OutboundMessage, recipients: readonly Recipient[]): Promise<RecipientResult[]>;
  /** Start no new transaction (those under way finish). */
  stopping(): void;
  /** Cut the connections in use: their transactions end deferred. */
  abort(): void;
  /** Close idle connections. */
  close(): void;
}
