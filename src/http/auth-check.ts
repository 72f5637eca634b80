import type { Readable } from 'node:stream';
import { authenticate, type AuthStatus, type DNSResolver } from 'mailauth';
import type { Config } from '../config/schema.js';
import { dkimVerdict } from '../dkim/verdict.js';
import { mailauthResolver } from '../dns/resolver.js';
import type { IndexedMessage } from '../sink/summary.js';

/**
 * The resolver the authentication check asks: the configured servers (a test's loopback DNS,
 * a lab resolver) or the system's, with a bounded wait, so a check never hangs on DNS.
 */
export function authResolver(checks: Config['checks']): DNSResolver {
  return mailauthResolver(checks.dnsServers, checks.dnsTimeoutSeconds * 1000, 1);
}

function verdict(status: AuthStatus | undefined): { Result: string; Comment: string } {
  return { Result: status?.result ?? 'none', Comment: status?.comment ?? '' };
}

/**
 * GET /api/mailwharf/message/{ID}/auth: what a receiving MTA would conclude about the
 * message (DKIM signatures, SPF for the envelope sender and client address, DMARC alignment,
 * ARC chain), via mailauth, so a developer sees whether the app's signing is right.
 */
export async function authenticationReport(
  message: IndexedMessage,
  raw: Readable,
  config: Config,
  resolver: DNSResolver,
) {
  const envelope = message.envelope;
  const result = await authenticate(raw, {
    ip: envelope.client.address,
    helo: envelope.client.helo,
    sender: envelope.mailFrom,
    mta: config.hostname,
    resolver,
    disableBimi: true,
  });
  // An unsigned message gets one result without a selector ("message not signed").
  const signatures = result.dkim.results.filter((r) => r.selector !== undefined);
  const dkim = signatures.map((r) => ({
    Domain: r.signingDomain,
    Selector: r.selector ?? '',
    Algorithm: r.algorithm ?? '',
    Canonicalization: r.canonicalization ?? '',
    // mailauth gives the aligned domain, or false.
    Aligned: Boolean(r.status.aligned),
    ...dkimVerdict(r.status),
  }));
  const spf = result.spf === false ? undefined : result.spf;
  const dmarc = result.dmarc === false ? undefined : result.dmarc;
  const arc = result.arc === false ? undefined : result.arc;
  // mailauth leaves alignment out when the DMARC lookup itself failed (temperror, no DNS).
  const alignment = dmarc?.alignment;
  return {
    ID: message.id,
    Summary: {
      DKIM: dkim.find((d) => d.Result === 'pass')?.Result ?? dkim[0]?.Result ?? 'none',
      SPF: spf?.status.result ?? 'none',
      DMARC: dmarc?.status.result ?? 'none',
      ARC: arc?.status.result ?? 'none',
    },
    DKIM: dkim,
    SPF: {
      Domain: spf?.domain ?? '',
      ClientAddress: envelope.client.address,
      Sender: envelope.mailFrom,
      ...verdict(spf?.status),
    },
    DMARC: {
      Domain: dmarc?.domain ?? '',
      Policy: dmarc?.policy ?? '',
      AlignedSPF: alignment?.spf.result ?? false,
      AlignedDKIM: alignment?.dkim.result ?? false,
      ...verdict(dmarc?.status),
    },
    ARC: { Instance: arc?.i ?? false, ...verdict(arc?.status) },
    /** The Authentication-Results (and Received-SPF) headers a receiver would add. */
    Headers: result.headers,
  };
}
