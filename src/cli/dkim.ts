/**
 * `mailwharf dkim keygen DOMAIN SELECTOR`: writes a new private key (mode 0600, never over an
 * existing file) and prints the DNS TXT record to publish and the config entry that uses it.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DKIM_ALGORITHMS, type DkimAlgorithm } from '../dkim/algorithms.js';
import { DEFAULT_RSA_BITS, generateDkimKey, zoneFileLine } from '../dkim/keygen.js';

export const DKIM_USAGE = `usage: mailwharf dkim keygen DOMAIN SELECTOR [--algorithm rsa-sha256|ed25519-sha256]
                              [--bits 2048] [--key-file PATH]
  writes the private key to PATH (default SELECTOR._domainkey.DOMAIN.pem here), mode 0600,
  and prints the DNS TXT record to publish and the delivery.dkim entry for the config`;

export class DkimUsageError extends Error {}

const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/;
const isName = (value: string): boolean => value.split('.').every((label) => LABEL.test(label));

export async function dkimCommand(argv: readonly string[], out: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      algorithm: { type: 'string', default: 'rsa-sha256' },
      bits: { type: 'string', default: String(DEFAULT_RSA_BITS) },
      'key-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    out.write(`${DKIM_USAGE}\n`);
    return 0;
  }
  const [action, rawDomain, selector, ...extra] = positionals;
  if (action !== 'keygen' || rawDomain === undefined || selector === undefined || extra.length > 0)
    throw new DkimUsageError(DKIM_USAGE);
  const domain = rawDomain.toLowerCase();
  if (!isName(domain) || !domain.includes('.'))
    throw new DkimUsageError(`"${rawDomain}" is not a domain name`);
  if (!isName(selector)) throw new DkimUsageError(`"${selector}" is not a DNS label`);
  const algorithm = values.algorithm as DkimAlgorithm;
  if (!DKIM_ALGORITHMS.includes(algorithm))
    throw new DkimUsageError(`--algorithm must be one of ${DKIM_ALGORITHMS.join(', ')}`);
  const bits = Number(values.bits);
  // RFC 8301 §3.2 sets 1024 as the floor; past 4096 some DNS hosting cannot hold the record.
  if (!Number.isInteger(bits) || bits < 1024 || bits > 4096)
    throw new DkimUsageError('--bits must be an integer from 1024 to 4096');
  const keyFile = resolve(values['key-file'] ?? `${selector}._domainkey.${domain}.pem`);

  const generated = generateDkimKey(domain, selector, algorithm, bits);
  try {
    await writeFile(keyFile, generated.privateKeyPem, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DkimUsageError(
      code === 'EEXIST'
        ? `${keyFile} exists; not overwriting a key (choose --key-file or remove it)`
        : `cannot write ${keyFile} (${code ?? String(error)})`,
    );
  }
  out.write(
    [
      `private key: ${keyFile} (mode 0600; readable by mailwharf's user only)`,
      '',
      'publish this DNS TXT record:',
      zoneFileLine(generated.record),
      '',
      'and add to the config:',
      'delivery:',
      '  dkim:',
      `    - domain: ${domain}`,
      `      selector: ${selector}`,
      `      keyFile: ${keyFile}`,
      `      algorithm: ${algorithm}`,
      '',
    ].join('\n'),
  );
  return 0;
}
