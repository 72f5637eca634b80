/**
 * A failed connection as an outcome. Where TLS was required (by MTA-STS, TLS memory or the
 * route) and is what failed, the outcome says so with Postfix's statuses: 4.7.4 "TLS is
 * required, but was not offered by host", 4.7.5 for a handshake or certificate failure.
 * Anything else is 4.4.1 (no answer, refused, lost). Always temporary: a policy failure
 * can be an attack in progress, or a certificate the receiver is about to renew.
 */
import { localOutcome, type Outcome } from './outcome.js';
import type { Destination } from './routes.js';

export function connectFailureOutcome(error: unknown, destination: Destination): Outcome {
  const message = error instanceof Error ? error.message : String(error);
  const failure =
    error instanceof Error ? (error as Error & { code?: string; originalCode?: string }) : undefined;
  // nodemailer reports a refused certificate as a socket error keeping Node's code.
  const tlsFailed =
    failure?.code === 'ETLS' ||
    /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS|ERR_SSL/.test(failure?.originalCode ?? '');
  // The pool tries hops in order and reports the last one's failure.
  const hop = destination.hops.at(-1);
  const why = hop?.tlsRequiredBy;
  if (tlsFailed && why !== undefined) {
    const host = hop?.host ?? '';
    return /upgrading connection with STARTTLS/.test(message)
      ? localOutcome(
          '4.7.4',
          `TLS is required, but was not offered by host ${host} (${why}): ${message}`,
          host,
        )
      : localOutcome(
          '4.7.5',
          `TLS with host ${host} failed${hop?.verifyCertificate === true ? ' or its certificate is not valid for it' : ''} (${why}): ${message}`,
          host,
        );
  }
  return localOutcome('4.4.1', `connection failed: ${message}`);
}
