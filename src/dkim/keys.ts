/**
 * DKIM signing keys from the config: each file read and checked once at start, so a missing
 * file, a key that is not PEM or a key of the wrong type stops the server with one line naming
 * the field, instead of the first delivery failing.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/load.js';

import type { DkimAlgorithm } from './algorithms.js';

export interface DkimKeyConfig {
  readonly domain: string;
  readonly selector: string;
  readonly keyFile: string;
  readonly algorithm: DkimAlgorithm;
  /** Header fields to sign; unset: mailauth's list (From, To, Subject, Date, Message-ID, …). */
  readonly headers?: readonly string[] | undefined;
}

export interface DkimKey extends Omit<DkimKeyConfig, 'keyFile'> {
  readonly privateKeyPem: string;
}

/** RFC 8301 §3.2: signers must use at least 1024 bits. */
const MIN_RSA_BITS = 1024;

function checkKey(key: KeyObject, algorithm: DkimAlgorithm): string | undefined {
  const wanted = algorithm === 'ed25519-sha256' ? 'ed25519' : 'rsa';
  if (key.asymmetricKeyType !== wanted)
    return `is a ${key.asymmetricKeyType ?? 'unknown'} key, but algorithm is ${algorithm}`;
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (wanted === 'rsa' && bits !== undefined && bits < MIN_RSA_BITS)
    return `is a ${bits}-bit RSA key; RFC 8301 requires at least ${MIN_RSA_BITS}`;
  return undefined;
}

/** Reads every key; `source` names the config file in errors. */
export function loadDkimKeys(entries: readonly DkimKeyConfig[], source: string): DkimKey[] {
  return entries.map((entry, index) => {
    const field = `${source}: delivery.dkim[${index}].keyFile`;
    let pem: string;
    try {
      pem = readFileSync(entry.keyFile, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new ConfigError(`${field}: cannot read ${entry.keyFile} (${code})`);
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch {
      throw new ConfigError(`${field}: ${entry.keyFile} is not a PEM private key`);
    }
    const problem = checkKey(key, entry.algorithm);
    if (problem) throw new ConfigError(`${field}: ${entry.keyFile} ${problem}`);
    return {
      domain: entry.domain,
      selector: entry.selector,
      algorithm: entry.algorithm,
      ...(entry.headers ? { headers: entry.headers } : {}),
      privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
  });
}
