import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Leaf {
  readonly key: string;
  readonly cert: string;
}

export interface PrivateCa {
  /** The CA certificate (PEM), and its file, for delivery.caFile. */
  readonly cert: string;
  readonly certFile: string;
  /** A certificate for these DNS names, signed by the CA. */
  issue(names: readonly string[]): Leaf;
  /** A self-signed certificate for these names: valid names, untrusted issuer. */
  selfSigned(names: readonly string[]): Leaf;
  remove(): void;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A certificate authority made by openssl for one test file, in a temporary directory. */
export function createPrivateCa(): PrivateCa {
  const dir = mkdtempSync(join(tmpdir(), 'mailwharf-ca-'));
  const file = (name: string): string => join(dir, name);
  const openssl = (args: readonly string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  openssl([
    'req',
    '-x509',
    ...EC,
    '-days',
    '2',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-subj',
    '/CN=mailwharf test CA',
  ]);
  let serial = 0;
  const san = (names: readonly string[]): string =>
    `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`;
  const read = (name: string): Leaf => ({
    key: readFileSync(file(`${name}.key`), 'utf8'),
    cert: readFileSync(file(`${name}.pem`), 'utf8'),
  });
  return {
    cert: readFileSync(file('ca.pem'), 'utf8'),
    certFile: file('ca.pem'),
    issue(names) {
      const name = `leaf${String(++serial)}`;
      openssl([
        'req',
        '-new',
        ...EC,
        '-keyout',
        file(`${name}.key`),
        '-out',
        file(`${name}.csr`),
        '-subj',
        `/CN=${names[0] ?? 'x'}`,
      ]);
      writeFileSync(file(`${name}.ext`), `${san(names)}\n`);
      openssl([
        'x509',
        '-req',
        '-in',
        file(`${name}.csr`),
        '-CA',
        file('ca.pem'),
        '-CAkey',
        file('ca.key'),
        '-set_serial',
        String(serial),
        '-days',
        '1',
        '-extfile',
        file(`${name}.ext`),
        '-out',
        file(`${name}.pem`),
      ]);
      return read(name);
    },
    selfSigned(names) {
      const name = `self${String(++serial)}`;
      openssl([
        'req',
        '-x509',
        ...EC,
        '-days',
        '1',
        '-keyout',
        file(`${name}.key`),
        '-out',
        file(`${name}.pem`),
        '-subj',
        `/CN=${names[0] ?? 'x'}`,
        '-addext',
        san(names),
      ]);
      return read(name);
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
