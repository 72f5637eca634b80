/**
 * `mailwharf dkim keygen`: a new signing key and the DNS TXT record that publishes it.
 * RSA keys are published as the SubjectPublicKeyInfo (RFC 6376 §3.6.1, k=rsa); Ed25519 keys as
 * the bare 32-byte public key (RFC 8463 §4, k=ed25519).
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { DkimAlgorithm } from './algorithms.js';

export interface GeneratedKey {
  /** PKCS#8 PEM, for `keyFile`. */
  readonly privateKeyPem: string;
  readonly record: DkimRecord;
}

export interface DkimRecord {
  /** The owner name, e.g. `mail2026._domainkey.example.com`. */
  readonly name: string;
  /** The TXT value, e.g. `v=DKIM1; k=rsa; p=MIIB…`. */
  readonly value: string;
}

/** 2048-bit RSA: what Gmail, Microsoft and Yahoo expect today (1024 is the floor RFC 8301 allows). */
export const DEFAULT_RSA_BITS = 2048;

export function generateDkimKey(
  domain: string,
  selector: string,
  algorithm: DkimAlgorithm,
  rsaBits = DEFAULT_RSA_BITS,
): GeneratedKey {
  const { privateKey, publicKey } =
    algorithm === 'ed25519-sha256'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('rsa', { modulusLength: rsaBits });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    record: dkimRecord(domain, selector, publicKey),
  };
}

/** The TXT record for a public (or private) key; the key's type decides k=. */
export function dkimRecord(domain: string, selector: string, key: KeyObject): DkimRecord {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const ed25519 = publicKey.asymmetricKeyType === 'ed25519';
  // An Ed25519 SubjectPublicKeyInfo is a fixed 12-byte prefix followed by the 32-byte key.
  const p = (ed25519 ? der.subarray(der.length - 32) : der).toString('base64');
  return {
    name: `${selector}._domainkey.${domain}`,
    value: `v=DKIM1; k=${ed25519 ? 'ed25519' : 'rsa'}; p=${p}`,
  };
}

/**
 * The record as a zone-file line. A TXT character-string holds at most 255 bytes (RFC 1035
 * §3.3), so a 2048-bit key's value is split into several quoted strings, which resolvers join.
 */
export function zoneFileLine(record: DkimRecord): string {
  const strings: string[] = [];
  for (let at = 0; at < record.value.length; at += 255) strings.push(`"${record.value.slice(at, at + 255)}"`);
  return `${record.name}. IN TXT ( ${strings.join(' ')} )`;
}
