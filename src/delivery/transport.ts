/**
 * The wire work of delivery, done by nodemailer's SMTPConnection (a well-kept client by
 * smtp-server's authors): connect, STARTTLS as the hop says, AUTH, send, reuse, quit.
 * Our part is only to turn its results into per-recipient outcomes. Temporary versus
 * permanent comes from the reply code nodemailer reports (`permanent`), never from text.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Readable } from 'node:stream';
import { domainToASCII } from '../util/domain-to-ascii.js';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { localOutcome, replyOutcome, type Outcome, type RecipientResult } from './outcome.js';
import type { Hop } from './routes.js';
import { planSevenBit, sevenBitStream, toSevenBit, type EightBitParts } from './seven-bit.js';
import type { TlsLevel } from './tls-policy.js';

/** One recipient as the next hop sees it: RFC 3461 NOTIFY and ORCPT are passed on. */
export interface OutboundRecipient {
  readonly address: string;
  readonly notify?: readonly string[];
  readonly orcpt?: string;
}

export interface OutboundEnvelope {
  readonly from: string;
  readonly to: readonly OutboundRecipient[];
  readonly size: number;
  readonly dsn?: { readonly ret?: string; readonly envid?: string };
  /** The message needs SMTPUTF8 (RFC 6531): a UTF-8 local part or header. */
  readonly smtputf8: boolean;
  /** The body has 8-bit bytes: declared BODY=8BITMIME, or converted for a 7-bit hop. */
  readonly eightBit: boolean;
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
 * A failure as an outcome: the remote reply when there is one (temporary or permanent by its
 * code); else nodemailer refused the message itself: larger than the server's SIZE (5.3.4,
 * as Postfix), an address it cannot send (5.1.3), or the connection broke (4.4.2).
 */
function outcomeOf(error: SmtpFailure, remoteMta: string, size: number): Outcome {
  if (error.response !== undefined && error.responseCode !== undefined)
    return replyOutcome(error.response, remoteMta);
  if (error.code === 'EMESSAGE' && /size/i.test(error.message))
    return localOutcome(
      '5.3.4',
      `message size ${String(size)} exceeds size limit of server ${remoteMta}`,
      remoteMta,
    );
  if (error.code === 'EENVELOPE') return localOutcome('5.1.3', error.message, remoteMta);
  return localOutcome('4.4.2', `lost connection with ${remoteMta}: ${error.message}`, remoteMta);
}

/** nodemailer keeps these on the connection without typing them; we read them, and supply RCPT's DSN arguments per recipient. */
interface ConnectionInternals {
  _supportedExtensions: string[];
  _recipientQueue: string[];
  _getDsnRcptToArgs: () => string;
  _sendCommand: (command: string, logText?: string) => void;
}

/** RFC 3461 xtext for ORCPT: "+", "=", controls and non-ASCII as +HH. */
function xtext(value: string): string {
  return [...Buffer.from(value, 'utf8')]
    .map((byte) =>
      byte < 33 || byte > 126 || byte === 0x2b || byte === 0x3d
        ? `+${byte.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(byte),
    )
    .join('');
}

/** The reason recorded for a transaction cut by a forced stop. */
const CUT_SHORT = 'connection closed by mailwharf while stopping; will retry';

export class OutboundConnection {
  /** Settles the send under way, if any, when we close the connection under it. */
  private cutShort: (() => void) | undefined;

  private constructor(
    private readonly connection: SMTPConnection,
    readonly hop: Hop,
    private setupMs: number,
  ) {}

  /** How long connecting took (greeting, EHLO, TLS, AUTH): once, for the first transaction; then 0. */
  takeSetupMs(): number {
    const ms = this.setupMs;
    this.setupMs = 0;
    return ms;
  }

  get usable(): boolean {
    return this.open;
  }

  private open = true;

  /** The last transaction ended with the server's 250 after the data (no RSET needed before the next). */
  get clean(): boolean {
    return this.cleanEnd;
  }

  private cleanEnd = false;

  /** This transaction's MAIL FROM carries SMTPUTF8 (see declareSmtpUtf8). */
  private smtpUtf8 = false;
  private smtpUtf8Declared = false;

  /**
   * nodemailer adds SMTPUTF8 only for a UTF-8 address; a UTF-8 header needs it as much. The
   * hook is set once per connection and asks this transaction's flag, so a later ASCII
   * message on the reused connection goes without it.
   */
  private declareSmtpUtf8(): void {
    if (this.smtpUtf8Declared || !this.smtpUtf8) return;
    this.smtpUtf8Declared = true;
    const internals = this.internals;
    const send = internals._sendCommand.bind(this.connection);
    internals._sendCommand = (command, logText) => {
      const needs = this.smtpUtf8 && command.startsWith('MAIL FROM:') && !/ SMTPUTF8\b/.test(command);
      send(needs ? `${command} SMTPUTF8` : command, logText);
    };
  }

  /** Connects (and authenticates) to one hop; rejects with the reason on failure. */
  static async connect(hop: Hop, options: ConnectOptions): Promise<OutboundConnection> {
    const started = performance.now();
    const ca = await caOf(hop);
    const connection = new SMTPConnection({
      // Connect to the address our resolver found; TLS still checks the certificate against the name.
      host: hop.address ?? hop.host,
      ...(isIP(hop.host) === 0 ? { servername: hop.host } : {}),
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
          const outbound = new OutboundConnection(connection, hop, performance.now() - started);
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

  private get internals(): ConnectionInternals {
    return this.connection as unknown as ConnectionInternals;
  }

  /**
   * What protection the session has: plaintext, TLS, or TLS whose certificate chains to a
   * trusted CA and names the hop (Node checks both even when it does not reject on failure).
   */
  get security(): TlsLevel {
    if (!this.connection.secure) return 'plain';
    return this.tlsSocket?.authorized === true ? 'tls-verified' : 'tls';
  }

  /** Why the certificate did not verify (Node's code, e.g. DEPTH_ZERO_SELF_SIGNED_CERT); undefined if it did or without TLS. */
  get certificateError(): string | undefined {
    const socket = this.tlsSocket;
    const error = socket?.authorizationError as Error | string | null | undefined;
    if (socket?.authorized === true || error === undefined || error === null) return undefined;
    return typeof error === 'string' ? error : error.message;
  }

  /** The session's TLS socket (nodemailer keeps it private), once the session is secure. */
  private get tlsSocket(): TLSSocket | undefined {
    return this.connection.secure
      ? (this.connection as unknown as { _socket?: TLSSocket })._socket
      : undefined;
  }

  /** What the hop said in EHLO, e.g. "SMTPUTF8", "8BITMIME", "DSN". */
  offers(extension: string): boolean {
    return this.internals._supportedExtensions.includes(extension);
  }

  /**
   * Sends one message; every recipient gets an outcome. Never rejects. The message is its
   * `bytes` when held in memory, else the stream `open` gives (called once; not at all when
   * the hop cannot take the message). An 8-bit message to a hop without 8BITMIME is converted
   * as it streams, by the plan `sevenBitPlan` remembers, or one read from `open` first.
   */
  async send(
    envelope: OutboundEnvelope,
    source: {
      readonly open: () => Readable;
      readonly bytes?: Buffer;
      readonly sevenBitPlan?: () => Promise<EightBitParts>;
    },
  ): Promise<RecipientResult[]> {
    const remoteMta = this.hop.host;
    const everyone = (outcome: Outcome): RecipientResult[] =>
      envelope.to.map((r) => ({ address: r.address, outcome }));
    const utf8 = envelope.smtputf8 && this.offers('SMTPUTF8');
    if (envelope.smtputf8 && !utf8) {
      // Postfix: "SMTPUTF8 is required, but was not offered by host"; a retry cannot help.
      return everyone(
        localOutcome('5.6.7', `SMTPUTF8 is required, but was not offered by host ${remoteMta}`, remoteMta),
      );
    }
    let message: Readable | Buffer;
    if (envelope.eightBit && !this.offers('8BITMIME')) {
      try {
        if (source.bytes) message = toSevenBit(source.bytes);
        else {
          // A part's Content-Transfer-Encoding comes before the body that decides it: the plan
          // (which parts have 8-bit bodies) needs a read of its own, once per message if remembered.
          const parts = await (source.sevenBitPlan?.() ?? planSevenBit(source.open()));
          message = sevenBitStream(source.open(), parts);
        }
      } catch (error) {
        return everyone(localOutcome('4.3.0', `cannot read the queued message: ${String(error)}`));
      }
    } else message = source.bytes ?? source.open();
    const withDsn = this.offers('DSN');
    return this.transact(envelope, message, { utf8, withDsn, remoteMta });
  }

  private transact(
    envelope: OutboundEnvelope,
    message: Readable | Buffer,
    how: { utf8: boolean; withDsn: boolean; remoteMta: string },
  ): Promise<RecipientResult[]> {
    const { remoteMta } = how;
    // A hop without SMTPUTF8 gets A-labels (only domains can be converted; a UTF-8 local part needed SMTPUTF8 above).
    const wire = (address: string): string => (how.utf8 ? address : asciiAddress(address));
    const to = envelope.to.map((r) => wire(r.address));
    const byWire = new Map(envelope.to.map((r) => [wire(r.address), r]));
    const internals = this.internals;
    // nodemailer gives every RCPT the same DSN arguments; ours are per recipient (RFC 3461 §4.1).
    internals._getDsnRcptToArgs = () => {
      if (!how.withDsn) return '';
      const rcpt = byWire.get(internals._recipientQueue[internals._recipientQueue.length - 1] ?? '');
      const args = [
        ...(rcpt?.notify ? [`NOTIFY=${rcpt.notify.join(',')}`] : []),
        ...(rcpt?.orcpt !== undefined ? [`ORCPT=${orcptArgument(rcpt.orcpt)}`] : []),
      ];
      return args.length > 0 ? ` ${args.join(' ')}` : '';
    };
    this.smtpUtf8 = how.utf8;
    this.declareSmtpUtf8();
    const relayed = !how.withDsn;
    const result = (address: string, outcome: Outcome): RecipientResult => ({
      address,
      outcome,
      ...(relayed && outcome.code !== undefined && outcome.code < 300 ? { relayed } : {}),
    });
    const original = (address: string): string => byWire.get(address)?.address ?? address;
    return new Promise((settle) => {
      let settled = false;
      this.cleanEnd = false;
      const resolve = (results: RecipientResult[]): void => {
        if (settled) return;
        settled = true;
        this.cutShort = undefined;
        if (!Buffer.isBuffer(message)) message.destroy();
        settle(results);
      };
      // nodemailer calls back nothing for a send under way when we close the connection
      // ourselves (a forced stop): each recipient is deferred, to be retried after the restart.
      this.cutShort = () => {
        resolve(to.map((address) => result(original(address), localOutcome('4.4.2', CUT_SHORT, remoteMta))));
      };
      this.connection.send(
        {
          from: wire(envelope.from),
          to,
          size: envelope.size,
          use8BitMime: envelope.eightBit,
          dsn: {
            ...(envelope.dsn?.ret ? { ret: envelope.dsn.ret } : {}),
            ...(envelope.dsn?.envid ? { envid: envelope.dsn.envid } : {}),
          },
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
            if (error.responseCode === undefined) this.open = false;
            const perRecipient = new Map((error.rejectedErrors ?? []).map((e) => [e.recipient ?? '', e]));
            resolve(
              to.map((address) =>
                result(
                  original(address),
                  outcomeOf(perRecipient.get(address) ?? error, remoteMta, envelope.size),
                ),
              ),
            );
            return;
          }
          this.cleanEnd = true;
          const rejected = new Map((info?.rejectedErrors ?? []).map((e) => [e.recipient ?? '', e]));
          resolve(
            to.map((address) => {
              const refusal = rejected.get(address);
              return result(
                original(address),
                refusal
                  ? outcomeOf(refusal, remoteMta, envelope.size)
                  : replyOutcome(info?.response ?? '250 2.0.0 Ok', remoteMta),
              );
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

/** ORCPT as received is "type;address" (already xtext on the wire in; decoded in the envelope). */
function orcptArgument(orcpt: string): string {
  const semicolon = orcpt.indexOf(';');
  if (semicolon < 0) return `rfc822;${xtext(orcpt)}`;
  return `${orcpt.slice(0, semicolon)};${xtext(orcpt.slice(semicolon + 1))}`;
}
