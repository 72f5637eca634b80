import { describe, expect, it } from 'vitest';
import { connectFailureOutcome } from '../../../src/delivery/connect-failure.js';
import type { Destination } from '../../../src/delivery/routes.js';

const destination = (tlsRequiredBy?: string, verifyCertificate = false): Destination => ({
  key: 'mx:a.test',
  hops: [
    {
      host: 'mx.a.test',
      address: '192.0.2.1',
      port: 25,
      tls: 'starttls',
      verifyCertificate,
      ...(tlsRequiredBy === undefined ? {} : { tlsRequiredBy }),
    },
  ],
});
const error = (message: string, code: string, originalCode?: string): Error =>
  Object.assign(new Error(message), { code, ...(originalCode === undefined ? {} : { originalCode }) });

describe('connectFailureOutcome', () => {
  it.each([
    // why: STARTTLS refused where TLS is required: Postfix's 4.7.4
    [
      'STARTTLS refused',
      error('Error upgrading connection with STARTTLS: 502', 'ETLS'),
      'MTA-STS policy (enforce)',
      '4.7.4',
    ],
    // why: nodemailer reports a refused certificate as a socket error with Node's code
    [
      'self-signed',
      error('self-signed certificate', 'ESOCKET', 'DEPTH_ZERO_SELF_SIGNED_CERT'),
      'MTA-STS policy (enforce)',
      '4.7.5',
    ],
    [
      'wrong name',
      error("Hostname/IP does not match certificate's altnames", 'ESOCKET', 'ERR_TLS_CERT_ALTNAME_INVALID'),
      'x',
      '4.7.5',
    ],
    // why: a refused connection is no TLS failure, whatever the policy
    [
      'refused',
      error('connect ECONNREFUSED', 'ESOCKET', 'ECONNREFUSED'),
      'MTA-STS policy (enforce)',
      '4.4.1',
    ],
    // why: without a TLS requirement a TLS failure is an ordinary connection failure
    [
      'TLS failed, nothing required',
      error('self-signed certificate', 'ESOCKET', 'DEPTH_ZERO_SELF_SIGNED_CERT'),
      undefined,
      '4.4.1',
    ],
  ])('%s -> %s', (_, failure, why, status) => {
    const outcome = connectFailureOutcome(failure, destination(why, true));
    expect(outcome.enhanced).toBe(status);
    expect(outcome.permanent).toBe(false);
    if (why !== undefined && status.startsWith('4.7')) expect(outcome.text).toContain(`(${why})`);
  });
});
