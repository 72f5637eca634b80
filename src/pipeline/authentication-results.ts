/**
 * Inbound authentication as data: what SPF, DKIM and DMARC concluded about a message from
 * another MTA, the RFC 8601 Authentication-Results header that records it, and the verdict a
 * policy draws from it. Pure: the evaluation itself (mailauth, DNS) is in smtp/inbound-auth.ts.
 */
import { headerSafe } from '../spool/received.js';
import { dmarcRejected, replies, spfRejected } from '../smtp/replies.js';
import { accept, reject, type Verdict } from './verdict.js';

/** RFC 8601 §2.7 result values (a union of the three methods'). */
export type AuthResult =
  'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror' | 'policy';

/**
 * RFC 7208 for the client address, evaluated once the envelope sender is known (at MAIL FROM,
 * as Postfix's policy daemons and chasquid do) and used again after DATA.
 */
export interface SpfFinding {
  readonly result: AuthResult;
  /** Empty for the null sender (then the HELO identity was checked). */
  readonly mailFrom: string;
  readonly helo: string;
  readonly clientAddress: string;
  /** The domain checked (the sender's, or the HELO's): DMARC aligns with it on pass. */
  readonly domain: string;
}

export interface AuthFindings {
  readonly spf: SpfFinding;
  /**
   * Why DKIM and DMARC were not evaluated (the header section was over our limit); then
   * `dkim` is empty and the header says permerror with this reason, not "not signed".
   */
  readonly notChecked?: string;
  /** One entry per DKIM-Signature; none: the message is not signed. */
  readonly dkim: readonly {
    readonly result: AuthResult;
    readonly domain: string;
    readonly selector: string;
  }[];
  /** `fromDomain` empty when the message has no usable From (then DMARC was not evaluated). */
  readonly dmarc: {
    readonly result: AuthResult;
    readonly fromDomain: string;
    /** The policy that applies to the From domain (p, or sp for a subdomain); undefined: no record. */
    readonly policy: string | undefined;
    /** RFC 7489 pct; undefined means 100. */
    readonly pct: number | undefined;
  };
}

/** What the policy does with a DMARC failure: write it down, or refuse where the domain asks. */
export type DmarcAction = 'record' | 'reject';
/** What the policy does with an SPF fail: write it down, or refuse it at MAIL FROM. */
type SpfAction = 'record' | 'reject';

/**
 * The MAIL FROM verdict under `inboundAuth.spf`. Only `fail` is refused (RFC 7208 §8.4: the
 * domain says the client may not send for it); softfail and neutral are recorded, and a
 * temperror or permerror is left to DMARC after DATA, which defers what DNS left undecided.
 */
export function spfVerdict(action: SpfAction, spf: SpfFinding): Verdict {
  if (action === 'record' || spf.result !== 'fail') return accept;
  return reject(spfRejected(spf.domain));
}

/** A method's result and its properties, e.g. "spf=pass smtp.mailfrom=a@example.org". */
function resinfo(
  method: string,
  result: AuthResult,
  properties: readonly (readonly [string, string])[],
  comment = '',
): string {
  const props = properties
    .filter(([, value]) => value !== '')
    .map(([name, value]) => `${name}=${headerSafe(value)}`);
  // A comment may hold spaces; nothing that could close it or leave the line.
  const safeComment = comment.replace(/[^\x20-\x7e]|[()\\]/g, '?');
  return [`${method}=${result}`, ...(comment === '' ? [] : [`(${safeComment})`]), ...props].join(' ');
}

/**
 * The header we prepend (RFC 8601): our authserv-id, then spf, each dkim signature (dkim=none
 * for an unsigned message) and dmarc, one per folded line, ending in CRLF.
 */
export function authenticationResultsHeader(hostname: string, findings: AuthFindings): string {
  const { spf, dkim, dmarc } = findings;
  const spfInfo =
    spf.mailFrom === ''
      ? resinfo('spf', spf.result, [['smtp.helo', spf.helo]])
      : resinfo('spf', spf.result, [['smtp.mailfrom', spf.mailFrom]]);
  const dkimInfos =
    findings.notChecked !== undefined
      ? [resinfo('dkim', 'permerror', [], findings.notChecked)]
      : dkim.length === 0
        ? [resinfo('dkim', 'none', [])]
        : dkim.map((signature) =>
            resinfo('dkim', signature.result, [
              ['header.d', signature.domain],
              ['header.s', signature.selector],
            ]),
          );
  const dmarcInfo =
    findings.notChecked !== undefined
      ? resinfo('dmarc', dmarc.result, [], findings.notChecked)
      : resinfo(
          'dmarc',
          dmarc.result,
          [['header.from', dmarc.fromDomain]],
          dmarc.policy === undefined ? '' : `p=${dmarc.policy}`,
        );
  return `Authentication-Results: ${headerSafe(hostname)};\r\n\t${[spfInfo, ...dkimInfos, dmarcInfo].join(';\r\n\t')}\r\n`;
}

/** The explanation RFC 7208 §9.1 puts in the comment, in the words pyspf and Postfix's policyd-spf use. */
function spfExplanation(receiver: string, sender: string, ip: string, result: AuthResult): string {
  const texts: Readonly<Record<AuthResult, string>> = {
    pass: `domain of ${sender} designates ${ip} as permitted sender`,
    fail: `domain of ${sender} does not designate ${ip} as permitted sender`,
    softfail: `domain of transitioning ${sender} does not designate ${ip} as permitted sender`,
    neutral: `${ip} is neither permitted nor denied by domain of ${sender}`,
    none: `domain of ${sender} does not designate permitted sender hosts`,
    temperror: `error in processing during lookup of domain of ${sender}`,
    permerror: `permanent error in processing domain of ${sender}`,
    policy: `domain of ${sender}: local policy`,
  };
  return `${receiver}: ${texts[result]}`;
}

/** A key-value-pair's value (RFC 7208 §9.1): a dot-atom as it is, anything else (an address) quoted. */
function spfValue(value: string): string {
  return /^[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*$/.test(value) ? value : `"${value}"`;
}

/**
 * RFC 7208 §9.1 Received-SPF, the trace field a receiver prepends above its Received: the
 * result, why, and the facts it was drawn from (client-ip, envelope-from, helo, receiver, and
 * which identity was checked), ending in CRLF. Client-given values pass headerSafe first, so
 * none can close the comment or a quoted value.
 */
export function receivedSpfHeader(hostname: string, spf: SpfFinding): string {
  const receiver = headerSafe(hostname);
  const helo = headerSafe(spf.helo || 'unknown');
  const mailFrom = headerSafe(spf.mailFrom);
  const ip = headerSafe(spf.clientAddress);
  const sender = spf.mailFrom === '' ? `postmaster@${helo}` : mailFrom;
  const pairs = [
    `client-ip=${spfValue(ip)}`,
    ...(spf.mailFrom === '' ? [] : [`envelope-from=${spfValue(mailFrom)}`]),
    `helo=${spfValue(helo)}`,
    `receiver=${spfValue(receiver)}`,
    `identity=${spf.mailFrom === '' ? 'helo' : 'mailfrom'}`,
  ];
  const comment = spfExplanation(receiver, sender, ip, spf.result);
  return `Received-SPF: ${spf.result} (${comment})\r\n\t${pairs.join('; ')};\r\n`;
}

/**
 * The DATA verdict under a policy. A message whose header section was not evaluated (over
 * our limit) is refused under either action: it could be neither verified nor cleared of a
 * forged Authentication-Results, and accepting it would let padding sidestep p=reject.
 * Otherwise `record` never refuses. `reject` refuses (550) a DMARC
 * failure whose domain publishes p=reject for all its mail (pct=100; below that we do not
 * sample, we accept and record), and defers (451) what could not be decided because DNS
 * failed: a DMARC temperror, or a p=reject failure where SPF or DKIM itself had a temperror
 * and might have passed. RFC 7489 §6.6.3 leaves DNS errors to the receiver; deferring keeps
 * the promise p=reject asks for without refusing mail for our resolver's trouble.
 */
export function inboundAuthVerdict(action: DmarcAction, findings: AuthFindings): Verdict {
  if (findings.notChecked !== undefined) return reject(replies.headerTooLarge);
  if (action === 'record') return accept;
  const { dmarc } = findings;
  if (dmarc.result === 'temperror') return reject(replies.dmarcDeferred);
  if (dmarc.result !== 'fail' || dmarc.policy !== 'reject' || (dmarc.pct ?? 100) < 100) return accept;
  const undecided =
    findings.spf.result === 'temperror' ||
    findings.dkim.some((signature) => signature.result === 'temperror');
  return reject(undecided ? replies.dmarcDeferred : dmarcRejected(dmarc.fromDomain));
}

/** A header field name that is ours to remove when it claims our authserv-id (RFC 8601 §5). */
export function claimsOurAuthservId(field: string, hostname: string): boolean {
  const match = /^authentication-results[ \t]*:[\s]*(?:\([^)]*\)\s*)?([^\s;]+)/i.exec(field);
  return match?.[1]?.toLowerCase() === hostname.toLowerCase();
}
