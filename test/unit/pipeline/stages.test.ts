import { describe, expect, it } from 'vitest';
import { policySchema } from '../../../src/config/schema.js';
import { networkSet } from '../../../src/pipeline/networks.js';
import {
  authFailureVerdict,
  checkConnect,
  checkMailFrom,
  checkRcptTo,
  relayRules,
} from '../../../src/pipeline/stages.js';
import { replies } from '../../../src/smtp/replies.js';
import { accept, reject } from '../../../src/pipeline/verdict.js';

const relay = policySchema.parse({
  auth: 'none',
  relay: { trustedNetworks: ['10.0.0.0/8', '2001:db8::/32'], authenticated: false },
});
const submission = policySchema.parse({ auth: 'required', limits: { maxMessageSize: 1000 } });
const user = { username: 'alice@example.com', addresses: ['alice@example.com', 'team@example.com'] };

describe('checkConnect', () => {
  const limits = policySchema.parse({ limits: { maxConnections: 2, maxConnectionsPerClient: 1 } }).limits;
  it.each([
    [{ listener: 1, client: 1 }, accept],
    [{ listener: 3, client: 1 }, reject(replies.tooManyConnections)],
    [{ listener: 2, client: 2 }, reject(replies.tooManyConnectionsFromClient)],
  ])('%j -> %j', (counts, verdict) => {
    expect(checkConnect(limits, counts)).toEqual(verdict);
  });
});

describe('checkMailFrom', () => {
  it.each([
    // policy, facts, verdict, why
    [
      submission,
      { sender: 'alice@example.com', declaredSize: undefined, user: undefined },
      reject(replies.authRequired),
      'auth required',
    ],
    [
      submission,
      { sender: 'alice@example.com', declaredSize: 1001, user },
      reject(replies.messageTooBigForSize),
      'SIZE= over the limit',
    ],
    [
      submission,
      { sender: 'Team@Example.com', declaredSize: 1000, user },
      accept,
      'own address, case-insensitive',
    ],
    [
      submission,
      { sender: 'boss@example.com', declaredSize: undefined, user },
      reject(replies.senderNotOwned),
      'not owned',
    ],
    [
      policySchema.parse({ auth: 'required', authenticatedSenders: 'any' }),
      { sender: 'boss@example.com', declaredSize: undefined, user },
      accept,
      'any sender allowed',
    ],
    [
      relay,
      { sender: '', declaredSize: undefined, user: undefined },
      accept,
      'null sender on the relay port',
    ],
  ] as const)('%#: %s', (policy, facts, verdict, _why) => {
    expect(checkMailFrom(policy, facts)).toEqual(verdict);
  });
});

describe('checkRcptTo: never an open relay', () => {
  const rules = relayRules(relay, ['example.com', 'bücher.example'], networkSet(relay.relay.trustedNetworks));
  it.each([
    ['user@example.com', '198.51.100.1', false, accept, 'accepted domain from anyone'],
    ['USER@EXAMPLE.COM', '198.51.100.1', false, accept, 'domains compare case-insensitively'],
    ['a@xn--bcher-kva.example', '198.51.100.1', false, accept, 'IDN accepted domain, A-label recipient'],
    ['a@bücher.example', '198.51.100.1', false, accept, 'IDN accepted domain, U-label recipient'],
    [
      'victim@elsewhere.test',
      '198.51.100.1',
      false,
      reject(replies.relayDenied),
      'untrusted client, other domain',
    ],
    [
      'victim@elsewhere.test',
      '198.51.100.1',
      true,
      reject(replies.relayDenied),
      'authenticated does not relay here',
    ],
    ['x@elsewhere.test', '10.1.2.3', false, accept, 'trusted IPv4 network'],
    ['x@elsewhere.test', '::ffff:10.1.2.3', false, accept, 'trusted, as seen on a dual-stack socket'],
    ['x@elsewhere.test', '2001:db8::5', false, accept, 'trusted IPv6 network'],
    [
      'x@sub.example.com',
      '198.51.100.1',
      false,
      reject(replies.relayDenied),
      'a subdomain is not the domain',
    ],
  ] as const)('%s from %s (auth %s): %s', (recipient, clientAddress, authenticated, verdict, _why) => {
    expect(checkRcptTo(rules, { recipient, clientAddress, authenticated })).toEqual(verdict);
  });

  it('an authenticated client relays where the policy says so', () => {
    const submissionRules = relayRules(submission, [], networkSet([]));
    expect(
      checkRcptTo(submissionRules, {
        recipient: 'x@elsewhere.test',
        clientAddress: '198.51.100.1',
        authenticated: true,
      }),
    ).toEqual(accept);
    expect(
      checkRcptTo(submissionRules, {
        recipient: 'x@elsewhere.test',
        clientAddress: '198.51.100.1',
        authenticated: false,
      }),
    ).toEqual(reject(replies.relayDenied));
  });
});

describe('authFailureVerdict', () => {
  const limits = policySchema.parse({ limits: { authFailuresBeforeDisconnect: 3 } }).limits;
  it.each([
    [1, reject(replies.authFailed)],
    [2, reject(replies.authFailed)],
    [3, reject(replies.authTooManyFailures)],
  ])('after %i failures -> %j', (failures, verdict) => {
    expect(authFailureVerdict(limits, failures)).toEqual(verdict);
  });
});
