/** What the spool keeps beside each message, as JSON; the commit record of a message. */
import { isRecord } from '../util/is-record.js';

export interface Recipient {
  readonly address: string;
  /** RFC 3461 NOTIFY and ORCPT, when the client gave them. */
  readonly notify?: readonly string[];
  readonly orcpt?: string;
}

export interface Envelope {
  readonly version: 1;
  readonly id: string;
  readonly receivedAt: string;
  /** Bytes of the stored file, Received header included. */
  readonly size: number;
  /** The reverse path; '' is the null sender. */
  readonly mailFrom: string;
  readonly rcptTo: readonly Recipient[];
  readonly dsn?: { readonly ret?: string; readonly envid?: string };
  readonly smtputf8: boolean;
  readonly client: { readonly address: string; readonly port: number; readonly helo: string };
  readonly listener: { readonly name: string; readonly role: string; readonly port: number };
  readonly authUser?: string;
  readonly tls?: { readonly version: string; readonly cipher: string };
  readonly state: 'captured' | 'queued';
  /** A copy released from the sink goes by the release route, not the delivery route. */
  readonly route?: 'release';
}

/** Spool files are input like any other: check the shape before trusting it. */
export function parseEnvelope(text: string): Envelope | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || value.version !== 1) return undefined;
  if (typeof value.id !== 'string' || typeof value.mailFrom !== 'string') return undefined;
  if (!Array.isArray(value.rcptTo) || typeof value.size !== 'number') return undefined;
  return value as unknown as Envelope;
}
