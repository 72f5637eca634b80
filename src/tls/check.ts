import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Config } from '../config/schema.js';

/** A problem with the configured certificate files, at the config field that names them. */
export interface TlsProblem {
  readonly path: readonly ['tls', 'cert' | 'key'];
  readonly message: string;
}

type Read = { ok: true; bytes: Buffer } | { ok: false; message: string };

async function readPem(file: string): Promise<Read> {
  try {
    return { ok: true, bytes: await readFile(file) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory, not a PEM file'
          : code === 'EACCES'
            ? `permission denied (running as uid ${String(process.getuid?.() ?? '?')})`
            : String(code ?? error);
    return { ok: false, message: `${file}: ${why}` };
  }
}

function parseCertificate(bytes: Buffer): X509Certificate | undefined {
  try {
    return new X509Certificate(bytes);
  } catch {
    return undefined;
  }
}

function parseKey(bytes: Buffer): KeyObject | undefined {
  try {
    return createPrivateKey(bytes);
  } catch {
    return undefined;
  }
}

/** Whether the certificate names the hostname (a DNS name, wildcard, or IP address). */
function covers(certificate: X509Certificate, hostname: string): boolean {
  return isIP(hostname) !== 0
    ? certificate.checkIP(hostname) !== undefined
    : certificate.checkHost(hostname) !== undefined;
}

/**
 * Loads the configured certificate and key as the server will, so a mistake is found by
 * check-config, not by the first handshake: unreadable or non-PEM files, a key that belongs to
 * another certificate, a certificate that does not name `hostname`, one that has expired.
 * Without cert/key the server makes its own certificate, and there is nothing to check.
 */
export async function checkTlsFiles(
  tls: Config['tls'],
  hostname: string,
  now = new Date(),
): Promise<TlsProblem[]> {
  if (tls.cert === undefined || tls.key === undefined) return [];
  const [certRead, keyRead] = await Promise.all([readPem(tls.cert), readPem(tls.key)]);
  const problems: TlsProblem[] = [];
  if (!certRead.ok) problems.push({ path: ['tls', 'cert'], message: certRead.message });
  if (!keyRead.ok) problems.push({ path: ['tls', 'key'], message: keyRead.message });
  if (!certRead.ok || !keyRead.ok) return problems;

  const certificate = parseCertificate(certRead.bytes);
  const key = parseKey(keyRead.bytes);
  if (!certificate)
    problems.push({ path: ['tls', 'cert'], message: `${tls.cert}: holds no PEM certificate` });
  if (!key) {
    problems.push({
      path: ['tls', 'key'],
      message: `${tls.key}: holds no PEM private key (or it is encrypted with a passphrase)`,
    });
  }
  if (!certificate || !key) return problems;

  if (key.type !== 'private' || !certificate.checkPrivateKey(key)) {
    problems.push({
      path: ['tls', 'key'],
      message: `${tls.key}: does not match the certificate in ${tls.cert}`,
    });
  }
  if (!covers(certificate, hostname)) {
    problems.push({
      path: ['tls', 'cert'],
      message: `${tls.cert}: does not cover hostname "${hostname}" (it names ${certificate.subjectAltName ?? certificate.subject.replace(/\n/g, ', ')})`,
    });
  }
  if (new Date(certificate.validTo).getTime() < now.getTime()) {
    problems.push({ path: ['tls', 'cert'], message: `${tls.cert}: expired on ${certificate.validTo}` });
  }
  return problems;
}
