/**
 * The wire work of delivery, done by nodemailer's SMTPConnection (a well-kept client by
 * smtp-server's authors): connect, STARTTLS as the hop says, AUTH, send, reuse, quit.
 * Our part is only to turn its results into per-recipient outcomes. Temporary versus
 * permanent comes from the reply code nodemailer reports (`permanent`), never from text.
 */
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { domainToASCII } from 'node:url';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { Hop } from './routes.js';

export type Outcome = 'delivered' | 'deferred' | 'failed';

export interface RecipientResult {
  readonly address: string;
  readonly outcome: Outcome;
  readonly reason: string;
  readonly remote: string;
}

export interface OutboundEnvelope {
  readonly from: string;
  readonly to: readonly string[];
  readonly size: number;
  readonly dsn?: { readonly ret?: string; readonly envid?: string };
}

export interface ConnectOptions {
  /** Our name in EHLO. */
  readonly name: string;
  readonly connectTimeoutMs: number;
}

const caFiles = new Map<string, Promise<Buffer>>();

/** A hop's extra CA, read once per file. */
function caOf(hop: Hop): Promise<Buffer | undefined> {
  if (hop.caFile === undefined) return Promise.resolve(undefined);
  let pending = caFiles.get(hop.caFile);
  if (!pending) {
    pending = readFile(hop.caFile);
    caFiles.set(hop.caFile, pending);
    pending.catch(() => caFiles.delete(hop.caFile ?? ''));
  }
  return pending;
}

interface SmtpFailure extends Error {
  responseCode?: number | undefined;
  response?: string | undefined;
  permanent?: boolean | undefined;
  recipient?: string | undefined;
  rejectedErrors?: SmtpFailure[] | undefined;
  code?: string | undefined;
}

/** Envelope domains travel as A-labels, so a hop without SMTPUTF8 can take them. */
export function asciiAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 0) return address;
  const domain = address.slice(at + 1);
  return `${address.slice(0, at)}@${domainToASCII(domain) || domain}`;
}

/**
 * Permanent when the reply code says so (nodemailer's `permanent`); also when nodemailer
 * refuses the message itself: larger than the server's SIZE (EMESSAGE) or an address it
 * cannot send (EENVELOPE without a reply). Retrying those for days cannot help.
 */
function outcomeOf(error: SmtpFailure): Outcome {
  if (error.permanent === true) return 'failed';
  if (error.responseCode === undefined && (error.code === 'EMESSAGE' || error.code === 'EENVELOPE'))
    return 'failed';
  return 'deferred';
}

function reasonOf(error: SmtpFailure): string {
  return (error.response ?? error.message).replace(/[\r\n]+/g, ' ').slice(0, 500);
}

/** The reason recorded for a transaction cut by a forced stop. */
const CUT_SHORT = '4.4.2 connection closed by mailwharf while stopping; will retry';

export class OutboundConnection {
  /** Settles the send under way, if any, when we close the connection under it. */
  private cutShort: (() => void) | undefined;

  private constructor(
    private readonly connection: SMTPConnection,
    readonly hop: Hop,
  ) {}

  get usable(): boolean {
    return this.open;
  }

  private open = true;

  /** Connects (and authenticates) to one hop; rejects with the reason on failure. */
  static async connect(hop: Hop, options: ConnectOptions): Promise<OutboundConnection> {
    const ca = await caOf(hop);
    const connection = new SMTPConnection({
      host: hop.host,
      port: hop.port,
      secure: hop.tls === 'implicit',
      requireTLS: hop.tls === 'starttls',
      ignoreTLS: hop.tls === 'none',
      opportunisticTLS: hop.tls === 'opportunistic',
      name: options.name,
      connectionTimeout: options.connectTimeoutMs,
      greetingTimeout: options.connectTimeoutMs,
      socketTimeout: 10 * 60 * 1000,
      allowInternalNetworkInterfaces: true,
      tls: {
        rejectUnauthorized: hop.verifyCertificate,
        minVersion: 'TLSv1.2',
        ...(ca ? { ca } : {}),
      },
      logger: false,
    });
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        connection.close();
        reject(error);
      };
      connection.once('error', fail);
      connection.connect((error?: Error | null) => {
        // A server that closes before its greeting reports here; try the next hop.
        if (error) {
          fail(error);
          return;
        }
        const ready = (): void => {
          if (settled) return;
          settled = true;
          connection.removeListener('error', fail);
          const outbound = new OutboundConnection(connection, hop);
          connection.on('error', () => {
            outbound.open = false;
          });
          connection.once('end', () => {
            outbound.open = false;
          });
          resolve(outbound);
        };
        if (!hop.auth) {
          ready();
          return;
        }
        connection.login({ user: hop.auth.user, pass: hop.auth.pass }, (error) => {
          if (error) fail(error);
          else ready();
        });
      });
    });
  }

  /** Sends one message; every recipient gets an outcome. Never rejects. */
  send(envelope: OutboundEnvelope, message: Readable): Promise<RecipientResult[]> {
    const remote = `${this.hop.host}:${String(this.hop.port)}`;
    const result = (address: string, outcome: Outcome, reason: string): RecipientResult => ({
      address,
      outcome,
      reason,
      remote,
    });
    const to = envelope.to.map(asciiAddress);
    const original = new Map(to.map((ascii, index) => [ascii, envelope.to[index] ?? ascii]));
    return new Promise((settle) => {
      let settled = false;
      const resolve = (results: RecipientResult[]): void => {
        if (settled) return;
        settled = true;
        this.cutShort = undefined;
        settle(results);
      };
      // nodemailer calls back nothing for a send under way when we close the connection
      // ourselves (a forced stop): each recipient is deferred, to be retried after the restart.
      this.cutShort = () => {
        message.destroy();
        resolve(to.map((address) => result(original.get(address) ?? address, 'deferred', CUT_SHORT)));
      };
      this.connection.send(
        {
          from: asciiAddress(envelope.from),
          to,
          size: envelope.size,
          ...(envelope.dsn
            ? {
                dsn: {
                  ...(envelope.dsn.ret ? { ret: envelope.dsn.ret } : {}),
                  ...(envelope.dsn.envid ? { envid: envelope.dsn.envid } : {}),
                },
              }
            : {}),
        },
        message,
        (
          error: SmtpFailure | null,
          info?: {
            accepted: string[];
            rejectedErrors?: SmtpFailure[] | undefined;
            response?: string | undefined;
          },
        ) => {
          if (error) {
            message.destroy();
            if (error.responseCode === undefined) this.open = false;
            const perRecipient = new Map((error.rejectedErrors ?? []).map((e) => [e.recipient ?? '', e]));
            resolve(
              to.map((address) => {
                const specific = perRecipient.get(address) ?? error;
                return result(original.get(address) ?? address, outcomeOf(specific), reasonOf(specific));
              }),
            );
            return;
          }
          const rejected = new Map((info?.rejectedErrors ?? []).map((e) => [e.recipient ?? '', e]));
          resolve(
            to.map((address) => {
              const refusal = rejected.get(address);
              const name = original.get(address) ?? address;
              return refusal
                ? result(name, outcomeOf(refusal), reasonOf(refusal))
                : result(name, 'delivered', (info?.response ?? '250').slice(0, 500));
            }),
          );
        },
      );
    });
  }

  /** RSET between messages on a reused connection. */
  reset(): Promise<boolean> {
    return new Promise((resolve) => {
      if (!this.open) {
        resolve(false);
        return;
      }
      this.connection.reset((error) => {
        if (error) this.open = false;
        resolve(!error);
      });
    });
  }

  close(): void {
    this.open = false;
    this.connection.quit();
    this.connection.close();
    this.cutShort?.();
  }
}
