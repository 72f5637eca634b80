/**
 * Inbound authentication as data: what SPF, DKIM and DMARC concluded about a message from
 * another MTA, the RFC 8601 Authentication-Results header that records it, and the verdict a
 * policy draws from it. Pure: the evaluation itself (mailauth, DNS) is in smtp/inbound-auth.ts.
 */
import { headerSafe } from '../spool/received.js';
import { dmarcRejected, replies } from '../smtp/replies.js';
import { accept, reject, type Verdict } from './verdict.js';

/** RFC 8601 §2.7 result values (a union of the three methods'). */
export type AuthResult =
  'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror' | 'policy';

export interface AuthFindings {
  /** RFC 7208 for the client address; `mailFrom` empty for the null sender (then the HELO was checked). */
  readonly spf: { readonly result: AuthResult; readonly mailFrom: string; readonly helo: string };
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
  return [`${method}=${result}`, ...(comment === '' ? [] : [`(${headerSafe(comment)})`]), ...props].join(' ');
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
    dkim.length === 0
      ? [resinfo('dkim', 'none', [])]
      : dkim.map((signature) =>
          resinfo('dkim', signature.result, [
            ['header.d', signature.domain],
            ['header.s', signature.selector],
          ]),
        );
  const dmarcInfo = resinfo(
    'dmarc',
    dmarc.result,
    [['header.from', dmarc.fromDomain]],
    dmarc.policy === undefined ? '' : `p=${dmarc.policy}`,
  );
  return `Authentication-Results: ${headerSafe(hostname)};\r\n\t${[spfInfo, ...dkimInfos, dmarcInfo].join(';\r\n\t')}\r\n`;
}

/**
 * The DATA verdict under a policy. `record` never refuses. `reject` refuses (550) a DMARC
 * failure whose domain publishes p=reject for all its mail (pct=100; below that we do not
 * sample, we accept and record), and defers (451) what could not be decided because DNS
 * failed: a DMARC temperror, or a p=reject failure where SPF or DKIM itself had a temperror
 * and might have passed. RFC 7489 §6.6.3 leaves DNS errors to the receiver; deferring keeps
 * the promise p=reject asks for without refusing mail for our resolver's trouble.
 */
export function inboundAuthVerdict(action: DmarcAction, findings: AuthFindings): Verdict {
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
