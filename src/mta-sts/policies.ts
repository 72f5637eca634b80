/**
 * MTA-STS policy discovery and cache (RFC 8461 §3, §5.1): the `_mta-sts` TXT record says
 * whether a domain has a policy and its id; the policy file is fetched over HTTPS from
 * mta-sts.DOMAIN with a verified certificate, and cached for max_age. A cached policy outlives
 * a failed lookup or fetch: an attacker who blocks DNS or HTTPS must not turn enforce off.
 * The cache is kept in a file so that a restart does not forget it either.
 */
import { request } from 'node:https';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { isRecord } from '../util/is-record.js';
import { parsePolicy, policyIdFromTxt, type StsPolicy } from './policy.js';

export interface StsLookups {
  /** TXT records of a name; rejects with code ENOTFOUND or ENODATA when there are none. */
  resolveTxt(name: string): Promise<string[][]>;
  /** An address to connect to for a host name (our resolver, not the system's). */
  resolveAddress(host: string): Promise<string>;
}

export interface StsFetchOptions {
  /** 443; another port only for tests. */
  readonly port: number;
  /** CA certificates (PEM) to trust instead of the system's; for a lab or a test. */
  readonly ca?: string | undefined;
  readonly timeoutMs: number;
}

export interface CachedPolicy extends StsPolicy {
  readonly id: string;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

export interface PolicyLookup {
  readonly policy: CachedPolicy | undefined;
  readonly source: 'none' | 'fetched' | 'cached';
  /** Why a lookup or fetch failed, when it did (the cached policy, if any, still applies). */
  readonly error?: string;
}

/** §3.3: policy files are small; more than this is not one. */
const MAX_POLICY_BYTES = 64 * 1024;
const NO_RECORD = new Set(['ENOTFOUND', 'ENODATA']);

export class MtaStsPolicies {
  private readonly cache = new Map<string, CachedPolicy>();
  private loaded: Promise<void> | undefined;
  /** Saves one after another, so two domains fetched at once cannot race on the temp file. */
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly lookups: StsLookups,
    private readonly fetchOptions: StsFetchOptions,
    private readonly cacheFile?: string,
    private readonly now: () => number = Date.now,
  ) {}

  async policyFor(rawDomain: string): Promise<PolicyLookup> {
    await (this.loaded ??= this.load());
    const domain = rawDomain.toLowerCase();
    const cached = this.valid(this.cache.get(domain));
    let id: string | undefined;
    try {
      id = policyIdFromTxt(await this.lookups.resolveTxt(`_mta-sts.${domain}`));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (!NO_RECORD.has(code ?? ''))
        return this.fallback(cached, `TXT _mta-sts.${domain}: ${code ?? String(error)}`);
    }
    // No record: a still valid cached policy goes on applying (§5.1).
    if (id === undefined)
      return cached ? { policy: cached, source: 'cached' } : { policy: undefined, source: 'none' };
    if (cached?.id === id) return { policy: cached, source: 'cached' };
    try {
      const parsed = parsePolicy(await this.fetchPolicyFile(domain));
      if (!parsed.ok) return this.fallback(cached, `policy of ${domain}: ${parsed.error}`);
      const policy: CachedPolicy = {
        ...parsed.policy,
        id,
        expiresAt: this.now() + parsed.policy.maxAge * 1000,
      };
      this.cache.set(domain, policy);
      await this.save();
      return { policy, source: 'fetched' };
    } catch (error) {
      return this.fallback(
        cached,
        `policy of ${domain}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  private valid(policy: CachedPolicy | undefined): CachedPolicy | undefined {
    return policy && policy.expiresAt > this.now() ? policy : undefined;
  }

  private fallback(cached: CachedPolicy | undefined, error: string): PolicyLookup {
    return cached
      ? { policy: cached, source: 'cached', error }
      : { policy: undefined, source: 'none', error };
  }

  /** §3.3: HTTPS with a certificate valid for mta-sts.DOMAIN, 200 only (no redirects), text/plain. */
  private async fetchPolicyFile(domain: string): Promise<string> {
    const host = `mta-sts.${domain}`;
    const address = await this.lookups.resolveAddress(host);
    const { port, ca, timeoutMs } = this.fetchOptions;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: address,
          servername: host,
          port,
          path: '/.well-known/mta-sts.txt',
          headers: { host },
          rejectUnauthorized: true,
          ...(ca === undefined ? {} : { ca }),
          timeout: timeoutMs,
        },
        (res) => {
          const type = res.headers['content-type'] ?? '';
          if (res.statusCode !== 200 || !/^text\/plain\b/i.test(type)) {
            res.destroy();
            reject(
              new Error(`https://${host}/.well-known/mta-sts.txt answered ${String(res.statusCode)} ${type}`),
            );
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_POLICY_BYTES)
              res.destroy(new Error(`policy larger than ${MAX_POLICY_BYTES} bytes`));
            else chunks.push(chunk);
          });
          res.once('error', reject);
          res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        },
      );
      req.once('timeout', () => req.destroy(new Error(`https://${host}: no answer within ${timeoutMs} ms`)));
      req.once('error', reject);
      req.end();
    });
  }

  private async load(): Promise<void> {
    if (this.cacheFile === undefined) return;
    let value: unknown;
    try {
      value = JSON.parse(await readFile(this.cacheFile, 'utf8'));
    } catch {
      return; // none yet, or unreadable: start empty, as after a first start
    }
    if (!isRecord(value)) return;
    for (const [domain, entry] of Object.entries(value)) {
      if (isCachedPolicy(entry)) this.cache.set(domain, entry);
    }
  }

  private save(): Promise<void> {
    const file = this.cacheFile;
    if (file === undefined) return Promise.resolve();
    const write = async (): Promise<void> => {
      await writeFile(`${file}.tmp`, JSON.stringify(Object.fromEntries(this.cache)));
      await rename(`${file}.tmp`, file);
    };
    this.saving = this.saving.then(write, write);
    return this.saving;
  }
}

function isCachedPolicy(value: unknown): value is CachedPolicy {
  return (
    isRecord(value) &&
    (value.mode === 'enforce' || value.mode === 'testing' || value.mode === 'none') &&
    Array.isArray(value.mx) &&
    value.mx.every((mx) => typeof mx === 'string') &&
    typeof value.maxAge === 'number' &&
    typeof value.id === 'string' &&
    typeof value.expiresAt === 'number'
  );
}
