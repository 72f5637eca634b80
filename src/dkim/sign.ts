/**
 * DKIM signing of outgoing mail (RFC 6376, RFC 8463 for Ed25519) with mailauth. The key is
 * chosen by the domain of the message's From header, so the signature aligns for DMARC: the
 * From domain's own key, else the nearest parent domain's (relaxed alignment, RFC 7489 §3.1.1).
 * The caller signs once, before the first attempt, and keeps the header, so retries send the
 * same signed bytes.
 */
import type { Readable } from 'node:stream';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import addressparser from 'nodemailer/lib/addressparser/index.js';
import { isRecord } from '../util/is-record.js';
import type { DkimKey } from './keys.js';

export type SignOutcome =
  | { readonly kind: 'signed'; readonly domain: string; readonly selector: string; readonly header: string }
  /** No key for the From domain (or no From): the message goes out as it is. */
  | { readonly kind: 'unsigned'; readonly reason: string }
  /** A key applies but signing failed: retry later rather than send unsigned mail a receiver may refuse. */
  | { readonly kind: 'failed'; readonly reason: string };

/** The value of the first `From:` field of a header block, unfolded. */
export function fromHeaderValue(header: string): string | undefined {
  const match = /^from[ \t]*:(.*(?:\r?\n[ \t].*)*)/im.exec(header);
  return match?.[1]?.replace(/\r?\n(?=[ \t])/g, '').trim();
}

/** The domain of the first address in the From header, lower-case; undefined without one. */
export function fromDomain(header: string): string | undefined {
  const value = fromHeaderValue(header);
  if (value === undefined) return undefined;
  const flat = (entries: ReturnType<typeof addressparser>): string[] =>
    entries.flatMap((entry) => (entry.group ? flat(entry.group) : [entry.address]));
  const address = flat(addressparser(value)).find((a) => a.includes('@'));
  return address?.slice(address.lastIndexOf('@') + 1).toLowerCase() || undefined;
}

/** mailauth reports a signing failure as `{ err, … }`, though its types say Error. */
function describeSignError(entry: unknown): string | undefined {
  if (entry === undefined) return undefined;
  const inner = isRecord(entry) && entry.err instanceof Error ? entry.err : entry;
  return inner instanceof Error ? inner.message : JSON.stringify(inner);
}

export class DkimSigner {
  constructor(private readonly keys: readonly DkimKey[]) {}

  /** The key for a From domain: its own, else the nearest parent domain's. */
  keyFor(domain: string): DkimKey | undefined {
    for (
      let candidate = domain;
      candidate.includes('.');
      candidate = candidate.slice(candidate.indexOf('.') + 1)
    ) {
      const key = this.keys.find((k) => k.domain === candidate);
      if (key) return key;
    }
    return undefined;
  }

  /**
   * Signs `message` (the whole message, header block included, as it will be sent). `header`
   * is its header block, used to find the From domain without reading the message twice.
   */
  async sign(header: string, message: Readable): Promise<SignOutcome> {
    const domain = fromDomain(header);
    if (domain === undefined) {
      message.destroy();
      return { kind: 'unsigned', reason: 'no From address' };
    }
    const key = this.keyFor(domain);
    if (!key) {
      message.destroy();
      return { kind: 'unsigned', reason: `no DKIM key for ${domain}` };
    }
    try {
      const signature = {
        // mailauth otherwise reads the clock twice, for the header it hashes and for the one it
        // returns: across a second's rounding boundary t= differs and the signature is invalid.
        signTime: new Date(),
        signingDomain: key.domain,
        selector: key.selector,
        privateKey: key.privateKeyPem,
        algorithm: key.algorithm,
        canonicalization: 'relaxed/relaxed',
      };
      // mailauth 4 signs only what is in signatureData; its types also ask for the fields at the top level.
      const result = await dkimSign(message, {
        ...signature,
        signatureData: [signature],
        ...(key.headers ? { headerList: [...key.headers] } : {}),
      });
      const failure = describeSignError(result.errors[0]);
      if (failure !== undefined) return { kind: 'failed', reason: failure };
      if (!result.signatures.startsWith('DKIM-Signature:'))
        return { kind: 'failed', reason: 'mailauth produced no signature' };
      return { kind: 'signed', domain: key.domain, selector: key.selector, header: result.signatures };
    } catch (error) {
      return { kind: 'failed', reason: error instanceof Error ? error.message : String(error) };
    }
  }
}
