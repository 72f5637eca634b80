import { describe, expect, it } from 'vitest';
import { policySchema } from '../../../src/config/schema.js';
import { networkSet } from '../../../src/pipeline/networks.js';
import {
  addressDomain,
  authFailureVerdict,
  checkConnect,
  checkMailFrom,
  checkAuthorizationIdentity,
  checkRcptTo,
  recipientAddress,
  relayRules,
} from '../../../src/pipeline/stages.js';
import { accept, reject, type Verdict } from '../../../src/pipeline/verdict.js';
import { replies, type ReplyName } from '../../../src/smtp/replies.js';

/** Tables name the expected verdict: 'accept', or the catalogue reply of the rejection. */
type Expected = 'accept' | ReplyName;
function verdict(expected: Expected): Verdict {
  return expected === 'accept' ? accept : reject(replies[expected]);
}

const policies = {
  /** Port 25: no AUTH, relaying only for trusted networks. */
  relay: policySchema.parse({
    auth: 'none',
    relay: { trustedNetworks: ['10.0.0.0/8', '2001:db8::/32'], authenticated: false },
  }),
  /** Port 587: AUTH required, own senders only, a small SIZE limit. */
  submission: policySchema.parse({ auth: 'required', limits: { maxMessageSize: 1000 } }),
  /** AUTH offered but not needed. */
  optional: policySchema.parse({ auth: 'optional' }),
  /** AUTH required, any envelope sender. */
  'any sender': policySchema.parse({ auth: 'required', authenticatedSenders: 'any' }),
};

const users = {
  alice: { username: 'alice@example.com', addresses: ['alice@example.com', 'team@example.com'] },
  /** Authenticated, but owns no address. */
  service: { username: 'service', addresses: [] },
};

describe('checkConnect', () => {
  const limits = policySchema.parse({ limits: { maxConnections: 2, maxConnectionsPerClient: 1 } }).limits;

  it.each([
    // sessions on the listener, from this client (this one included), verdict, why
    [1, 1, 'accept', 'the first session'],
    [2, 1, 'accept', 'exactly at the listener limit is still allowed'],
    [3, 1, 'tooManyConnections', 'one over the listener limit'],
    [2, 2, 'tooManyConnectionsFromClient', 'one over the per-client limit'],
    [3, 2, 'tooManyConnections', 'the listener limit is checked first'],
  ] as const)('listener %i, client %i -> %s (%s)', (listener, client, expected, _why) => {
    expect(checkConnect(limits, { listener, client })).toEqual(verdict(expected));
  });

  it.each([
    // sessions on the listener, from this client, verdict, why
    [200, 20, 'accept', 'the defaults: 200 sessions, 20 per client'],
    [201, 1, 'tooManyConnections', 'one over the default listener limit'],
    [21, 21, 'tooManyConnectionsFromClient', 'one over the default per-client limit'],
  ] as const)('default limits: listener %i, client %i -> %s (%s)', (listener, client, expected, _why) => {
    expect(checkConnect(policySchema.parse({}).limits, { listener, client })).toEqual(verdict(expected));
  });
});

describe('checkMailFrom', () => {
  it.each([
    // policy, sender, authenticated user, declared SIZE=, verdict, why
    ['submission', 'alice@example.com', undefined, undefined, 'authRequired', 'auth required, none given'],
    ['submission', 'alice@example.com', undefined, 5000, 'authRequired', 'AUTH is checked before SIZE'],
    ['submission', 'alice@example.com', 'alice', 1001, 'messageTooBigForSize', 'SIZE= over the limit'],
    ['submission', 'alice@example.com', 'alice', 1000, 'accept', 'SIZE= exactly at the limit'],
    ['submission', 'alice@example.com', 'alice', undefined, 'accept', 'no SIZE= declared'],
    ['submission', 'Team@Example.COM', 'alice', undefined, 'accept', 'an own address, case-insensitively'],
    [
      'submission',
      'boss@example.com',
      'alice',
      undefined,
      'senderNotOwned',
      'not one of the user’s addresses',
    ],
    [
      'submission',
      'alice@example.com.evil',
      'alice',
      undefined,
      'senderNotOwned',
      'a longer address is not it',
    ],
    ['submission', '', 'alice', undefined, 'senderNotOwned', 'the null sender is not an own address'],
    ['submission', 'service@example.com', 'service', undefined, 'senderNotOwned', 'a user with no addresses'],
    ['any sender', 'boss@example.com', 'alice', undefined, 'accept', 'authenticatedSenders: any'],
    [
      'optional',
      'anyone@elsewhere.test',
      undefined,
      undefined,
      'accept',
      'optional auth unused: no sender check',
    ],
    ['optional', 'boss@example.com', 'alice', undefined, 'senderNotOwned', 'optional auth used: own senders'],
    ['relay', '', undefined, undefined, 'accept', 'a bounce (null sender) on the relay port'],
    ['relay', 'a@elsewhere.test', undefined, 25 * 1024 * 1024, 'accept', 'the default size limit'],
    [
      'relay',
      'a@elsewhere.test',
      undefined,
      25 * 1024 * 1024 + 1,
      'messageTooBigForSize',
      'one byte over it',
    ],
  ] as const)(
    '%s: MAIL FROM:<%s> as %s, SIZE=%s -> %s (%s)',
    (policy, sender, user, declaredSize, expected, _why) => {
      const facts = { sender, declaredSize, user: user === undefined ? undefined : users[user] };
      expect(checkMailFrom(policies[policy], facts)).toEqual(verdict(expected));
    },
  );
});

describe('addressDomain', () => {
  it.each([
    // address, domain in A-label form, why
    ['user@example.com', 'example.com', 'plain'],
    ['USER@EXAMPLE.COM', 'example.com', 'lower-cased'],
    ['a@bücher.example', 'xn--bcher-kva.example', 'a U-label becomes its A-label'],
    ['a@BÜCHER.example', 'xn--bcher-kva.example', 'an upper-case U-label too'],
    ['a@XN--BCHER-KVA.example', 'xn--bcher-kva.example', 'an A-label stays, lower-cased'],
    ['"a@b"@example.com', 'example.com', 'the last @ separates a quoted local part'],
    ['postmaster', '', 'no @, no domain'],
    ['a@', '', 'an empty domain'],
  ] as const)('%j -> %j (%s)', (address, domain, _why) => {
    expect(addressDomain(address)).toBe(domain);
  });
});

describe('checkRcptTo: never an open relay', () => {
  describe('on the relay port', () => {
    const rules = relayRules(
      policies.relay,
      ['example.com'],
      networkSet(policies.relay.relay.trustedNetworks),
    );
    it.each([
      // recipient, client address, authenticated, verdict, why
      ['user@example.com', '198.51.100.1', false, 'accept', 'an accepted domain, from anyone'],
      ['USER@EXAMPLE.COM', '198.51.100.1', false, 'accept', 'domains compare case-insensitively'],
      ['victim@elsewhere.test', '198.51.100.1', false, 'relayDenied', 'an untrusted client, another domain'],
      [
        'victim@elsewhere.test',
        '198.51.100.1',
        true,
        'relayDenied',
        'AUTH does not relay where the policy says not',
      ],
      ['x@sub.example.com', '198.51.100.1', false, 'relayDenied', 'a subdomain is not the domain'],
      ['x@example.com.evil.test', '198.51.100.1', false, 'relayDenied', 'the domain as a prefix is not it'],
      ['x@evilexample.com', '198.51.100.1', false, 'relayDenied', 'the domain as a suffix is not it'],
      ['x@example.com@elsewhere.test', '198.51.100.1', false, 'relayDenied', 'the last @ decides the domain'],
      ['postmaster', '198.51.100.1', false, 'accept', 'RFC 5321 §4.5.1: the bare postmaster, from anyone'],
      ['PostMaster', '198.51.100.1', false, 'accept', 'postmaster is case-insensitive'],
      ['x@elsewhere.test', '10.1.2.3', false, 'accept', 'a trusted IPv4 network'],
      ['x@elsewhere.test', '::ffff:10.1.2.3', false, 'accept', 'trusted, as seen on a dual-stack socket'],
      ['x@elsewhere.test', '2001:db8::5', false, 'accept', 'a trusted IPv6 network'],
      ['x@elsewhere.test', '11.0.0.1', false, 'relayDenied', 'just outside the trusted network'],
    ] as const)(
      'RCPT TO:<%s> from %s (auth %s) -> %s (%s)',
      (recipient, clientAddress, authenticated, expected, _why) => {
        expect(checkRcptTo(rules, { recipient, routing: false, clientAddress, authenticated })).toEqual(
          verdict(expected),
        );
      },
    );
  });

  describe('IDN accepted domains', () => {
    it.each([
      // accepted domain as configured, recipient, verdict, why
      ['bücher.example', 'a@bücher.example', 'accept', 'U-label configured, U-label recipient'],
      ['bücher.example', 'a@xn--bcher-kva.example', 'accept', 'U-label configured, A-label recipient'],
      ['bücher.example', 'a@BÜCHER.EXAMPLE', 'accept', 'U-label configured, upper-case U-label recipient'],
      ['xn--bcher-kva.example', 'a@bücher.example', 'accept', 'A-label configured, U-label recipient'],
      ['xn--bcher-kva.example', 'a@xn--bcher-kva.example', 'accept', 'A-label configured, A-label recipient'],
      [
        'xn--bcher-kva.example',
        'a@XN--BCHER-KVA.EXAMPLE',
        'accept',
        'A-label configured, upper-case A-label',
      ],
      ['Example.COM', 'a@example.com', 'accept', 'relayRules normalises the case of ASCII domains'],
      ['bücher.example', 'a@bucher.example', 'relayDenied', 'the ASCII look-alike is another domain'],
      [
        'bücher.example',
        'a@xn--bcher-kva.example.evil.test',
        'relayDenied',
        'the A-label as a prefix is not it',
      ],
    ] as const)('accepting %j, RCPT TO:<%s> -> %s (%s)', (configured, recipient, expected, _why) => {
      const rules = relayRules(policies.relay, [configured], networkSet([]));
      expect(
        checkRcptTo(rules, {
          recipient,
          routing: false,
          clientAddress: '198.51.100.1',
          authenticated: false,
        }),
      ).toEqual(verdict(expected));
    });

    it('relayRules holds accepted domains in A-label form', () => {
      const rules = relayRules(
        policies.relay,
        ['bücher.example', 'xn--mnchen-3ya.example', 'example.com'],
        networkSet([]),
      );
      expect([...rules.acceptedDomains].sort()).toEqual([
        'example.com',
        'xn--bcher-kva.example',
        'xn--mnchen-3ya.example',
      ]);
    });
  });

  describe('on the submission port', () => {
    const rules = relayRules(policies.submission, [], networkSet([]));
    it.each([
      // recipient, client address, authenticated, verdict, why
      ['x@elsewhere.test', '198.51.100.1', true, 'accept', 'an authenticated client relays'],
      ['x@elsewhere.test', '198.51.100.1', false, 'relayDenied', 'an unauthenticated one does not'],
      ['x@elsewhere.test', '127.0.0.1', false, 'relayDenied', 'not even from loopback: no trusted networks'],
    ] as const)(
      'RCPT TO:<%s> from %s (auth %s) -> %s (%s)',
      (recipient, clientAddress, authenticated, expected, _why) => {
        expect(checkRcptTo(rules, { recipient, routing: false, clientAddress, authenticated })).toEqual(
          verdict(expected),
        );
      },
    );
  });

  describe('sender-specified routing (allow_untrusted_routing = no)', () => {
    const rules = relayRules(
      policies.relay,
      ['example.com'],
      networkSet(policies.relay.relay.trustedNetworks),
    );
    const permissive = { ...rules, allowUntrustedRouting: true };
    it.each([
      // recipient (as parsed), client, authenticated, rules, verdict, why
      [
        'v%evil.example@example.com',
        '198.51.100.1',
        false,
        rules,
        'routingDenied',
        'the percent hack, untrusted',
      ],
      ['evil.example!v@example.com', '198.51.100.1', false, rules, 'routingDenied', 'a bang path, untrusted'],
      [
        '"v@evil.example"@example.com',
        '198.51.100.1',
        false,
        rules,
        'routingDenied',
        'a quoted @, untrusted',
      ],
      [
        'v@example.com',
        '198.51.100.1',
        false,
        rules,
        'routingDenied',
        'a source route stripped by the parser',
      ],
      ['v%evil.example@example.com', '10.1.2.3', false, rules, 'accept', 'a trusted network may route'],
      [
        'v%evil.example@example.com',
        '198.51.100.1',
        false,
        permissive,
        'accept',
        'allowUntrustedRouting: true',
      ],
      [
        'v%evil.example@elsewhere.test',
        '198.51.100.1',
        false,
        permissive,
        'relayDenied',
        'routing never opens relay',
      ],
    ] as const)(
      'RCPT TO:<%s> from %s (auth %s) -> %s',
      (recipient, clientAddress, authenticated, using, expected, _why) => {
        expect(checkRcptTo(using, { recipient, routing: true, clientAddress, authenticated })).toEqual(
          verdict(expected),
        );
      },
    );

    it('an authenticated client that may relay may route', () => {
      const submission = relayRules(policies.submission, [], networkSet([]));
      expect(
        checkRcptTo(submission, {
          recipient: 'v%x@elsewhere.test',
          routing: true,
          clientAddress: '198.51.100.1',
          authenticated: true,
        }),
      ).toEqual(accept);
    });
  });

  it.each([
    ['postmaster', 'postmaster@example.com', 'the bare postmaster goes to the configured address'],
    ['POSTMASTER', 'postmaster@example.com', 'in any case'],
    ['postmaster@local.test', 'postmaster@local.test', 'a qualified postmaster is left alone'],
    ['bob@local.test', 'bob@local.test', 'anyone else is left alone'],
  ] as const)('recipientAddress(%j) -> %j (%s)', (recipient, expected, _why) => {
    expect(recipientAddress(recipient, 'postmaster@example.com')).toBe(expected);
  });

  it.each([
    // authzid, authcid, verdict, why
    [undefined, 'alice', 'accept', 'LOGIN has no authzid'],
    ['', 'alice', 'accept', 'an empty authzid (the usual PLAIN token)'],
    ['alice', 'alice', 'accept', 'the same identity'],
    ['alice', '', 'accept', 'authzid only: the library takes it as the username'],
    ['bob', 'alice', 'authzidRefused', 'acting as another user'],
  ] as const)('checkAuthorizationIdentity(%j, %j) -> %s (%s)', (authzid, authcid, expected, _why) => {
    expect(checkAuthorizationIdentity(authzid, authcid)).toEqual(verdict(expected));
  });

  it.each([
    // policy, relays for authenticated clients, why
    ['relay', false, 'relay.authenticated: false'],
    ['submission', true, 'the default'],
  ] as const)('relayRules for %s: relayForAuthenticated is %s (%s)', (policy, expected, _why) => {
    expect(relayRules(policies[policy], [], networkSet([])).relayForAuthenticated).toBe(expected);
  });
});

describe('authFailureVerdict', () => {
  it.each([
    // authFailuresBeforeDisconnect, failures so far (this one included), verdict, why
    [3, 1, 'authFailed', 'the first failure: 535, try again'],
    [3, 2, 'authFailed', 'still below the limit'],
    [3, 3, 'authTooManyFailures', 'at the limit: 421, the connection closes'],
    [3, 4, 'authTooManyFailures', 'past the limit stays closed'],
    [1, 1, 'authTooManyFailures', 'a limit of one closes on the first failure'],
  ] as const)('limit %i, %i failures -> %s (%s)', (limit, failures, expected, _why) => {
    const limits = policySchema.parse({ limits: { authFailuresBeforeDisconnect: limit } }).limits;
    expect(authFailureVerdict(limits, failures)).toEqual(verdict(expected));
  });

  it('the disconnecting verdict is a 421, so guessing again costs a reconnect', () => {
    expect(replies.authTooManyFailures.code).toBe(421);
    expect(replies.authFailed.code).toBe(535);
  });
});
