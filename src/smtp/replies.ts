/**
 * Every reply mailwharf itself sends, in one catalogue: basic code, RFC 3463 enhanced
 * code and a client-safe text. Tests assert on these by name.
 */
export interface SmtpReply {
  readonly code: number;
  readonly enhanced: string;
  readonly text: string;
}

function reply(code: number, enhanced: string, text: string): SmtpReply {
  return { code, enhanced, text };
}

export const replies = {
  // connection
  tooManyConnections: reply(421, '4.7.0', 'Too many connections, try again later'),
  tooManyConnectionsFromClient: reply(
    421,
    '4.7.0',
    'Too many connections from your address, try again later',
  ),
  earlyTalker: reply(421, '4.7.0', 'You talked before the greeting; closing'),
  shuttingDown: reply(421, '4.3.2', 'Server shutting down, try again later'),
  idleTimeout: reply(421, '4.4.2', 'Idle timeout, closing connection'),
  /** A full listener closes the stranger idle longest to let a newcomer in. */
  idleEvicted: reply(421, '4.7.0', 'Server busy, closing idle connection'),
  /** DATA slower than the policy's minDataRate. */
  dataTooSlow: reply(421, '4.4.2', 'Data transfer too slow, closing connection'),
  proxyWithoutClient: reply(421, '4.7.0', 'No client address from the load balancer; closing'),
  // auth
  authRequired: reply(530, '5.7.0', 'Authentication required'),
  authNeedsTls: reply(538, '5.7.11', 'Encryption required for requested authentication mechanism'),
  authNotOffered: reply(503, '5.5.1', 'Authentication not enabled'),
  authFailed: reply(535, '5.7.8', 'Authentication credentials invalid'),
  authTooManyFailures: reply(421, '4.7.0', 'Too many failed authentication attempts, closing'),
  /** RFC 4616 authzid: acting as another user is not offered, so only the user's own name (or none). */
  authzidRefused: reply(535, '5.7.8', 'Authorization identity must be empty or the authentication identity'),
  authSucceeded: reply(235, '2.7.0', 'Authentication successful'),
  /** RFC 4954: a temporary server failure, e.g. too many logins waiting to be checked. */
  authTemporaryFailure: reply(454, '4.7.0', 'Temporary authentication failure, try again later'),
  // mail from
  senderNotOwned: reply(553, '5.7.1', 'Sender address not owned by the authenticated user'),
  messageTooBigForSize: reply(552, '5.3.4', 'Message size exceeds fixed maximum message size'),
  // rcpt to
  relayDenied: reply(554, '5.7.1', 'Relay access denied'),
  /** A source route, or '%', '!' or '@' in the local part, from an untrusted client. */
  routingDenied: reply(550, '5.7.1', 'Sender-specified routing is not allowed'),
  tooManyRecipients: reply(452, '4.5.3', 'Too many recipients'),
  // data
  messageTooBig: reply(552, '5.3.4', 'Message size exceeds fixed maximum message size'),
  bareLineEnding: reply(550, '5.6.0', 'Bare CR or LF in message; use CRLF line endings'),
  nulByte: reply(550, '5.6.0', 'NUL character in message'),
  diskFull: reply(452, '4.3.1', 'Insufficient system storage'),
  tooManyHops: reply(554, '5.4.6', 'Too many hops: mail loop detected'),
  localError: reply(451, '4.3.0', 'Local error in processing, try again later'),
  /**
   * On a listener that verifies inbound mail, a header section too large to verify or to
   * clear of forged Authentication-Results (Gmail answers such a message the same way).
   */
  headerTooLarge: reply(552, '5.3.4', 'Message header size exceeds limit'),
  /** Under `inboundAuth.dmarc: reject`, DMARC could not be decided (DNS failed): try later. */
  dmarcDeferred: reply(451, '4.7.1', 'DMARC check could not be completed, try again later'),
} as const satisfies Record<string, SmtpReply>;

export type ReplyName = keyof typeof replies;

export function queued(queueId: string): SmtpReply {
  return reply(250, '2.0.0', `Ok: queued as ${queueId}`);
}

/** Over a `limits.rate` limit: temporary, with the wait in the text (as RFC 5321 §4.2.5 leaves open). */
export function rateLimited(what: 'messages' | 'recipients', retryAfterSeconds: number): SmtpReply {
  return reply(450, '4.7.1', `Too many ${what} from you; try again in ${String(retryAfterSeconds)} s`);
}

/**
 * An SPF fail (RFC 7208 §8.4) at MAIL FROM, under `inboundAuth.spf: reject`; X.7.23 is RFC
 * 7372's "SPF validation failed", the code chasquid and Postfix's policyd-spf answer.
 */
export function spfRejected(domain: string): SmtpReply {
  return reply(550, '5.7.23', `SPF validation failed for ${replyDomain(domain)}`);
}

/**
 * A DMARC failure for a domain that publishes p=reject (RFC 7489 §6.7), under
 * `inboundAuth.dmarc: reject`; OpenDMARC answers the same code and words.
 */
export function dmarcRejected(domain: string): SmtpReply {
  return reply(550, '5.7.1', `Rejected by DMARC policy for ${replyDomain(domain)}`);
}

/** A domain from the message or the envelope, safe to put in a reply line. */
function replyDomain(domain: string): string {
  return domain.replace(/[^A-Za-z0-9.-]/g, '?').slice(0, 255);
}

export function renderReply(r: SmtpReply): string {
  return `${r.code} ${r.enhanced} ${r.text}`;
}

/** The text part smtp-server writes after the code: our enhanced code, then our text. */
export function replyText(r: SmtpReply): string {
  return `${r.enhanced} ${r.text}`;
}

/** An Error in the shape smtp-server's callbacks expect, carrying our exact reply. */
export function replyError(r: SmtpReply): Error & { responseCode: number } {
  return Object.assign(new Error(replyText(r)), { responseCode: r.code });
}

const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;

/** True when a reply text already starts with an enhanced code, i.e. came from this catalogue. */
export function hasEnhancedCode(text: string): boolean {
  return ENHANCED_PREFIX.test(text);
}
