/**
 * Per-domain TLS memory (chasquid's domaininfo): the best TLS a recipient domain's MX has
 * shown, one small file per domain in the spool's tls/ directory, so a restart keeps it and
 * `mailwharf tls forget DOMAIN` (run while the server runs, too) is a file removal. Files are
 * read on every use, never cached: a forget takes effect at the next delivery.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { domainToASCII } from '../util/domain-to-ascii.js';
import { isRecord } from '../util/is-record.js';
import { TLS_LEVELS, tlsRank, type TlsLevel } from './tls-policy.js';

export interface RememberedTls {
  readonly domain: string;
  readonly level: TlsLevel;
  /** The MX host that showed it, and when (ISO time). */
  readonly host: string;
  readonly seenAt: string;
}

/** The spool's directory of remembered domains. */
export function tlsMemoryDir(spoolDir: string): string {
  return join(spoolDir, 'tls');
}

/** A domain as a file name: lower-case A-labels only, so no name can leave the directory. */
export function tlsMemoryKey(domain: string): string | undefined {
  const name = domain.toLowerCase().replace(/\.$/, '');
  // domainToASCII parses a URL host: it would cut "a/b" to "a". Letters, digits, - and . only.
  if (/[^\p{L}\p{N}\p{M}.-]/u.test(name)) return undefined;
  const ascii = domainToASCII(name);
  return /^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(ascii) ? ascii : undefined;
}

export class TlsMemory {
  constructor(private readonly dir: string) {}

  async recall(domain: string): Promise<RememberedTls | undefined> {
    const key = tlsMemoryKey(domain);
    if (key === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(await readFile(join(this.dir, key), 'utf8'));
    } catch {
      return undefined; // never seen (or a damaged file, which must not block delivery forever)
    }
    return isRemembered(value) ? { ...value, domain: key } : undefined;
  }

  /** Raises the remembered level (never lowers it); says whether it changed. */
  async remember(domain: string, level: TlsLevel, host: string, now: Date): Promise<boolean> {
    const key = tlsMemoryKey(domain);
    if (key === undefined || level === 'plain') return false;
    const known = await this.recall(key);
    if (known && tlsRank(known.level) >= tlsRank(level)) return false;
    await mkdir(this.dir, { recursive: true });
    const file = join(this.dir, key);
    const record: RememberedTls = { domain: key, level, host, seenAt: now.toISOString() };
    // A temp name outside the key space (no key starts with a dot), then rename.
    const temp = join(this.dir, `.${key}.tmp`);
    await writeFile(temp, `${JSON.stringify(record)}\n`);
    await rename(temp, file);
    return true;
  }

  /** Forgets a domain; says whether it was remembered. */
  async forget(domain: string): Promise<boolean> {
    const key = tlsMemoryKey(domain);
    if (key === undefined || !(await this.recall(key))) return false;
    await rm(join(this.dir, key), { force: true });
    return true;
  }

  async list(): Promise<RememberedTls[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const found = await Promise.all(names.sort().map((name) => this.recall(name)));
    return found.filter((entry): entry is RememberedTls => entry !== undefined);
  }
}

function isRemembered(value: unknown): value is Omit<RememberedTls, 'domain'> {
  return (
    isRecord(value) &&
    TLS_LEVELS.some((level) => level === value.level) &&
    typeof value.host === 'string' &&
    typeof value.seenAt === 'string'
  );
}
