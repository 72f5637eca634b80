/**
 * Delivery status notifications (RFC 3464): a multipart/report with a human part, the
 * machine-readable message/delivery-status, and the original headers (or the whole
 * message with RET=FULL). Sent from the null sender, so a DSN can never cause another.
 */
import { randomBytes } from 'node:crypto';
import { rfc5322Date } from '../spool/received.js';
import type { Envelope } from '../spool/envelope.js';
import { describeOutcome, type Outcome } from './outcome.js';
import type { NoticeKind, RecipientState } from './state.js';

export type DsnKind = NoticeKind;

/**
 * Diagnostic-Code (RFC 3464 §2.3.6): "smtp;" only for a remote SMTP reply; our own reasons
 * are labelled as ours, as Postfix labels its own "X-Postfix;".
 */
export function diagnosticCode(outcome: Outcome): string {
  return outcome.code !== undefined
    ? `smtp; ${String(outcome.code)} ${outcome.enhanced} ${outcome.text}`
    : `X-Mailwharf; ${outcome.text}`;
}

export interface DsnInput {
  readonly kind: DsnKind;
  readonly envelope: Envelope;
  readonly recipients: readonly RecipientState[];
  readonly hostname: string;
  /** The original message's header block, as latin1 text (CRLF line ends, no trailing blank line). */
  readonly originalHeaders: string;
  /** The whole original message when RET=FULL and it is small enough; else undefined. */
  readonly originalMessage: string | undefined;
  readonly now: Date;
  readonly retryUntil?: Date;
}

/** Header values we copy in must not break lines. */
function oneLine(value: string): string {
  return value.replace(/[\r\n]+/g, ' ');
}

const SUBJECTS: Record<DsnKind, string> = {
  failed: 'Undelivered Mail Returned to Sender',
  delayed: 'Delayed Mail (still being retried)',
  relayed: 'Successful Mail Delivery Report',
};

const DEFAULT_STATUS: Record<DsnKind, string> = { failed: '5.0.0', delayed: '4.0.0', relayed: '2.0.0' };

export function buildDsn(input: DsnInput): Buffer {
  const { envelope, hostname, now } = input;
  const boundary = `mailwharf-dsn-${randomBytes(8).toString('hex')}`;
  const subject = SUBJECTS[input.kind];
  const lines = input.recipients.map(
    (r) => `  <${oneLine(r.address)}>: ${r.outcome ? describeOutcome(r.outcome) : 'no reason recorded'}`,
  );
  const intro = `This is the mail system at ${hostname}.\r\n\r\n`;
  const human = `${intro}${
    input.kind === 'failed'
      ? 'Your message could not be delivered to one or more recipients.\r\nIt is attached below.'
      : input.kind === 'relayed'
        ? 'Your message was successfully delivered to the destination(s) listed\r\nbelow. The next system does not report delivery status, so you will\r\nreceive no further notice of delivery from it.'
        : `Your message has not been delivered yet. It is still being retried\r\nuntil ${input.retryUntil ? rfc5322Date(input.retryUntil) : 'it expires'}; you need not resend it.`
  }\r\n\r\n${lines.join('\r\n')}\r\n`;

  const perMessage = [
    `Reporting-MTA: dns; ${hostname}`,
    `X-Mailwharf-Queue-ID: ${envelope.id}`,
    ...(envelope.dsn?.envid ? [`Original-Envelope-Id: ${oneLine(envelope.dsn.envid)}`] : []),
    `Arrival-Date: ${rfc5322Date(new Date(envelope.receivedAt))}`,
  ];
  const orcpt = new Map(envelope.rcptTo.map((r) => [r.address, r.orcpt]));
  const perRecipient = input.recipients.map((r) => {
    const fields = [
      `Final-Recipient: rfc822; ${oneLine(r.address)}`,
      ...(orcpt.get(r.address) ? [`Original-Recipient: ${oneLine(orcpt.get(r.address) ?? '')}`] : []),
      `Action: ${input.kind}`,
      `Status: ${r.outcome?.enhanced ?? DEFAULT_STATUS[input.kind]}`,
      ...(r.outcome?.remoteMta ? [`Remote-MTA: dns; ${oneLine(r.outcome.remoteMta)}`] : []),
      ...(r.outcome ? [`Diagnostic-Code: ${oneLine(diagnosticCode(r.outcome))}`] : []),
      `Last-Attempt-Date: ${rfc5322Date(r.at ? new Date(r.at) : now)}`,
      ...(input.kind === 'delayed' && input.retryUntil
        ? [`Will-Retry-Until: ${rfc5322Date(input.retryUntil)}`]
        : []),
    ];
    return fields.join('\r\n');
  });
  const originalHead =
    input.originalMessage !== undefined
      ? 'Content-Type: message/rfc822\r\n\r\n'
      : 'Content-Type: text/rfc822-headers\r\n\r\n';
  const originalBody = input.originalMessage ?? `${input.originalHeaders}\r\n`;

  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${hostname}>`,
    `To: <${oneLine(envelope.mailFrom)}>`,
    `Subject: ${subject}`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: <${envelope.id}.${input.kind}.${randomBytes(4).toString('hex')}@${hostname}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    human,
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    `${perMessage.join('\r\n')}\r\n\r\n${perRecipient.join('\r\n\r\n')}\r\n`,
    `--${boundary}`,
    originalHead,
  ].join('\r\n');
  // Our parts are UTF-8 text; the original's bytes (read as latin1) go back unchanged.
  return Buffer.concat([
    Buffer.from(head, 'utf8'),
    Buffer.from(originalBody, 'latin1'),
    Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'),
  ]);
}
