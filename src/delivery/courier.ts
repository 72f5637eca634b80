/**
 * The seam between the queue and the wire (chasquid's courier.Courier, maddy's
 * DeliveryTarget): the worker hands a message and its open recipients to a Courier and gets
 * an outcome per recipient back. The SMTP courier routes and speaks SMTP; tests pass a fake.
 */
import type { Readable } from 'node:stream';
import type { Envelope, Recipient } from '../spool/envelope.js';
import { localOutcome, type Outcome, type RecipientResult } from './outcome.js';
import type { EightBitParts } from './seven-bit.js';

/**
 * The outcome of a recipient the courier did not try because it was stopping (it waited for a
 * connection, or its message's earlier group was the last transaction allowed). The worker
 * records nothing for a message none of whose recipients was tried: it stays due as it was,
 * not pushed back by a retry delay it never earned.
 */
export const NOT_ATTEMPTED: Outcome = Object.freeze(
  localOutcome('4.4.2', 'not attempted: mailwharf was stopping; will retry'),
);

export interface OutboundMessage {
  readonly envelope: Envelope;
  /** A fresh stream of the message's bytes, on each call. */
  readonly open: () => Readable;
  /** The first bytes of the message (its header block), for decisions made before sending. */
  readonly header: () => Promise<string>;
  /** The body has 8-bit bytes. */
  readonly eightBit: boolean;
  /** The whole message, when it is held in memory: sent as it is, with no stream made for it. */
  readonly bytes?: Buffer;
  /**
   * Which parts have 8-bit bodies, for a message that streams: remembered after the first
   * time, so an attempt to a hop without 8BITMIME reads the message once, to convert it.
   */
  readonly sevenBitPlan?: () => Promise<EightBitParts>;
}

export interface Courier {
  /** Every recipient given gets exactly one result. Never rejects for a delivery problem. */
  deliver(message: OutboundMessage, recipients: readonly Recipient[]): Promise<RecipientResult[]>;
  /** Start no new transaction (those under way finish); the rest get NOT_ATTEMPTED. */
  stopping(): void;
  /** Cut the connections in use: their transactions end deferred. */
  abort(): void;
  /** Close idle connections. */
  close(): void;
}
