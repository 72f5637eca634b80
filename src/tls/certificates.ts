import { isIP } from 'node:net';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';

export interface TlsMaterial {
  readonly key: Buffer;
  readonly cert: Buffer;
  /** Where it came from, for the log. */
  readonly source: string;
  readonly selfSigned: boolean;
}

/** The files the self-signed certificate for `hostname` is kept in, so it is made once. */
export function selfSignedPaths(dir: string, hostname: string): { cert: string; key: string } {
  const safe = hostname.replace(/[^A-Za-z0-9.-]/g, '_');
  return { cert: join(dir, `${safe}.selfsigned.crt`), key: join(dir, `${safe}.selfsigned.key`) };
}

async function readPair(
  certPath: string,
  keyPath: string,
): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  try {
    return { cert: await readFile(certPath), key: await readFile(keyPath) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function makeSelfSigned(hostname: string, paths: { cert: string; key: string }): Promise<void> {
  const now = new Date();
  const altNames = [
    isIP(hostname) ? { type: 7 as const, ip: hostname } : { type: 2 as const, value: hostname },
    { type: 2 as const, value: 'localhost' },
    { type: 7 as const, ip: '127.0.0.1' },
    { type: 7 as const, ip: '::1' },
  ];
  // Loaded only when a certificate must be made: it weighs several MiB of heap.
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + 825 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  // Written under temporary names and renamed, so a crash never leaves half a pair.
  await writeFile(`${paths.key}.tmp`, pems.private, { mode: 0o600 });
  await writeFile(`${paths.cert}.tmp`, pems.cert, { mode: 0o644 });
  await rename(`${paths.key}.tmp`, paths.key);
  await rename(`${paths.cert}.tmp`, paths.cert);
}

/**
 * The configured certificate, or else a self-signed one for the hostname, made on the
 * first start and reused after. Called again on SIGHUP to pick up renewed files.
 */
export async function loadTlsMaterial(tls: Config['tls'], hostname: string): Promise<TlsMaterial> {
  if (tls.cert !== undefined && tls.key !== undefined) {
    const pair = await readPair(tls.cert, tls.key);
    if (!pair) throw new Error(`tls.cert/tls.key: ${tls.cert} or ${tls.key} does not exist`);
    return { ...pair, source: tls.cert, selfSigned: false };
  }
  const paths = selfSignedPaths(tls.selfSignedDir, hostname);
  let pair = await readPair(paths.cert, paths.key);
  if (!pair) {
    await mkdir(tls.selfSignedDir, { recursive: true });
    await makeSelfSigned(hostname, paths);
    pair = await readPair(paths.cert, paths.key);
    if (!pair) throw new Error(`could not write the self-signed certificate to ${tls.selfSignedDir}`);
  }
  return { ...pair, source: paths.cert, selfSigned: true };
}
