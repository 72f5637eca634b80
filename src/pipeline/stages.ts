/**
 * The policy decisions of the pipeline, one pure function per SMTP phase. Each takes
 * the listener's policy and the facts of the session and returns a Verdict; the session
 * adapter turns a rejection into the catalogue reply. No sockets, no I/O.
 */
import { domainToASCII } from '../util/domain-to-ascii.js';
import type { Limits, Policy } from '../config/schema.js';
import { replies } from '../smtp/replies.js';
import type { NetworkSet } from './networks.js';
import { unauthenticatedLimit } from './stress.js';
import { accept, reject, type Verdict } from './verdict.js';

export interface ConnectionCounts {
  /** Open sessions on this listener, this one included. */
  readonly listener: number;
  /** Open sessions on this listener from the same client address, this one included. */
  readonly client: number;
  /**
   * Open sessions of untrusted clients that have not authenticated, this one included when
   * it is one of them; 0 (no such limit) when not given.
   */
  readonly unauthenticated?: number;
  /** The client is in trustedNetworks: per-client limits do not apply (Postfix exempts mynetworks). */
  readonly trusted?: boolean;
}

export function checkConnect(limits: Limits, counts: ConnectionCounts): Verdict {
  if (counts.listener > limits.maxConnections) return reject(replies.tooManyConnections);
  if ((counts.unauthenticated ?? 0) > unauthenticatedLimit(limits)) return reject(replies.tooManyConnections);
  if (counts.trusted !== true && counts.client > limits.maxConnectionsPerClient) {
    return reject(replies.tooManyConnectionsFromClient);
  }
  return accept;
}

export interface SenderFacts {
  readonly sender: string;
  /** The SIZE= the client declared at MAIL, if any. */
  readonly declaredSize: number | undefined;
  /** Undefined when the session has not authenticated. */
  readonly user: { readonly username: string; readonly addresses: readonly string[] } | undefined;
}

export function checkMailFrom(policy: Policy, facts: SenderFacts): Verdict {
  if (policy.auth === 'required' && !facts.user) return reject(replies.authRequired);
  if (facts.declaredSize !== undefined && facts.declaredSize > policy.limits.maxMessageSize) {
    return reject(replies.messageTooBigForSize);
  }
  if (facts.user && policy.authenticatedSenders === 'own') {
    const sender = facts.sender.toLowerCase();
    const owned = facts.user.addresses.some((address) => address.toLowerCase() === sender);
    if (!owned) return reject(replies.senderNotOwned);
  }
  return accept;
}

/** The domain of an address in A-label form, so IDN and ASCII spellings compare equal. */
export function addressDomain(address: string): string {
  const at = address.lastIndexOf('@');
  const domain = at < 0 ? '' : address.slice(at + 1);
  return domainToASCII(domain.toLowerCase()) || domain.toLowerCase();
}

export interface RecipientFacts {
  readonly recipient: string;
  /** The path picks its own next hop: a source route, or '%', '!' or '@' in the local part. */
  readonly routing: boolean;
  readonly clientAddress: string;
  readonly authenticated: boolean;
}

export interface RelayRules {
  readonly acceptedDomains: ReadonlySet<string>;
  readonly trustedNetworks: NetworkSet;
  readonly relayForAuthenticated: boolean;
  readonly allowUntrustedRouting: boolean;
}

/**
 * Never an open relay: mail for other domains needs AUTH or a trusted network. A client that
 * may not relay may not route either: "v%evil.example@example.test" is for our domain, but a
 * next hop that honours the percent hack delivers it to evil.example (Postfix refuses it with
 * allow_untrusted_routing = no). The bare "postmaster" is always accepted (RFC 5321 §4.5.1).
 */
export function checkRcptTo(rules: RelayRules, facts: RecipientFacts): Verdict {
  if (facts.recipient.toLowerCase() === 'postmaster') return accept;
  const mayRelay =
    (facts.authenticated && rules.relayForAuthenticated) ||
    rules.trustedNetworks.contains(facts.clientAddress);
  if (facts.routing && !mayRelay && !rules.allowUntrustedRouting) return reject(replies.routingDenied);
  if (mayRelay) return accept;
  if (rules.acceptedDomains.has(addressDomain(facts.recipient))) return accept;
  return reject(replies.relayDenied);
}

/** Where a recipient goes: the bare "postmaster" is the configured postmaster address. */
export function recipientAddress(recipient: string, postmaster: string): string {
  return recipient.toLowerCase() === 'postmaster' ? postmaster : recipient;
}

/** RFC 4616: an authorization identity other than the authentication identity is refused. */
export function checkAuthorizationIdentity(
  authzid: string | undefined,
  authcid: string | undefined,
): Verdict {
  if (authzid === undefined || authzid === '' || authcid === undefined || authcid === '') return accept;
  return authzid === authcid ? accept : reject(replies.authzidRefused);
}

export function relayRules(
  policy: Policy,
  acceptedDomains: readonly string[],
  trusted: NetworkSet,
): RelayRules {
  return {
    acceptedDomains: new Set(acceptedDomains.map((domain) => domainToASCII(domain) || domain)),
    trustedNetworks: trusted,
    relayForAuthenticated: policy.relay.authenticated,
    allowUntrustedRouting: policy.relay.allowUntrustedRouting,
  };
}

/** After this many failures the connection is closed (421), so guessing costs a reconnect. */
export function authFailureVerdict(limits: Limits, failuresSoFar: number): Verdict {
  return failuresSoFar >= limits.authFailuresBeforeDisconnect
    ? reject(replies.authTooManyFailures)
    : reject(replies.authFailed);
}
