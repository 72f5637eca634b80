/**
 * What one delivery attempt said about one recipient, as data. The SMTP courier fills it
 * from the remote reply; our own reasons (no route, connection refused, gave up) carry no
 * reply code. Nothing downstream parses text to learn the status.
 */
export interface Outcome {
  /** The remote SMTP reply code; absent when the text is ours, not a remote reply. */
  readonly code?: number;
  /** RFC 3463 status, e.g. "5.1.1". */
  readonly enhanced: string;
  /** The remote reply text (without code) or our reason, one line. */
  readonly text: string;
  /** A retry cannot help. */
  readonly permanent: boolean;
  /** Host name (never host:port) of the server that gave the reply, for the DSN's Remote-MTA. */
  readonly remoteMta?: string;
}

export interface RecipientResult {
  readonly address: string;
  readonly outcome: Outcome;
  /**
   * Delivered to a next hop that does not do DSN (RFC 3461 §4.3 "relayed"): a NOTIFY=SUCCESS
   * sender is then told by us, as the hop will not.
   */
  readonly relayed?: boolean;
  /**
   * Not attempted: a limit of ours (delivery.rateLimits) holds it back this many ms. Not a
   * failed attempt: no attempt is counted for it and the message is due again when it may go.
   */
  readonly postponedMs?: number;
  /** Where the transaction's time went, for the log's delays= (absent: no transaction was made). */
  readonly timing?: TransactionTiming;
}

/** Postfix's delays= b, c and d, as the courier sees them (milliseconds). */
export interface TransactionTiming {
  /** Waiting for a connection to the destination (a free one, or the pool's room for one). */
  readonly waitMs: number;
  /** Finding the hop (DNS) and setting the connection up (connect, greeting, EHLO, TLS, AUTH); 0 on a reused one. */
  readonly connectMs: number;
  /** The transaction itself: MAIL FROM to the reply after the data. */
  readonly sendMs: number;
}

export function isSuccess(outcome: Outcome): boolean {
  return outcome.code !== undefined
    ? outcome.code >= 200 && outcome.code < 300
    : outcome.enhanced.startsWith('2.');
}

/** Our own reason (not a remote reply), temporary or permanent by its status class. */
export function localOutcome(enhanced: string, text: string, remoteMta?: string): Outcome {
  return {
    enhanced,
    text: oneLine(text),
    permanent: enhanced.startsWith('5.'),
    ...(remoteMta === undefined ? {} : { remoteMta }),
  };
}

/**
 * A remote reply ("550 5.1.1 No such user", multi-line joined) as an outcome. Without an
 * enhanced code in the reply, the class default (RFC 3463 X.0.0) stands in.
 */
export function replyOutcome(reply: string, remoteMta: string | undefined): Outcome {
  const line = oneLine(reply);
  const match = /^([2-5]\d\d)[ -]?(?:([245]\.\d{1,3}\.\d{1,3})\s+)?(.*)$/.exec(line);
  if (!match) return localOutcome('4.4.0', line, remoteMta);
  const code = Number(match[1]);
  const klass = Math.floor(code / 100);
  return {
    code,
    enhanced: match[2] ?? `${String(klass === 3 ? 2 : klass)}.0.0`,
    text: match[3] ?? '',
    permanent: klass === 5,
    ...(remoteMta === undefined ? {} : { remoteMta }),
  };
}

/** The reply as a line: "550 5.1.1 text", or our text after its status. */
export function describeOutcome(outcome: Outcome): string {
  return outcome.code !== undefined
    ? `${String(outcome.code)} ${outcome.enhanced} ${outcome.text}`
    : `${outcome.enhanced} ${outcome.text}`;
}

function oneLine(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .trim()
    .slice(0, 500);
}
