/**
 * The plan for one destination: which hops, at which addresses, with how much TLS. For the MX
 * route that is the MX lookup, then the domain's MTA-STS policy (a host it does not list is
 * dropped under enforce, logged under testing), then what the domain has shown before (TLS
 * memory), then the addresses; every lookup through delivery.dns. A smarthost is as configured.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config, DeliveryConfig } from '../config/schema.js';
import type { Lookups } from '../dns/resolver.js';
import { MtaStsPolicies, type PolicyLookup } from '../mta-sts/policies.js';
import { mxVerdict } from '../mta-sts/policy.js';
import { withAddresses } from './mx-resolve.js';
import { RouteError, routeFor, type Destination, type Hop } from './routes.js';
import { TlsMemory, tlsMemoryDir } from './tls-memory.js';
import { hopTls, type TlsLevel } from './tls-policy.js';

type Route = DeliveryConfig['route'];

export interface PlannerDeps {
  readonly config: Config;
  readonly lookups: Lookups;
  readonly random: () => number;
  readonly log?: Logger | undefined;
  readonly now?: () => Date;
}

/** RFC 3463 X.7.5 "cryptographic failure": what Postfix gives when TLS policy cannot be met. */
export const TLS_POLICY_STATUS = '4.7.5';
const POLICY_TIMEOUT_MS = 10_000;

export class DestinationPlanner {
  private readonly memory: TlsMemory | undefined;
  /** Made on first use: it needs delivery.caFile read. */
  private sts: Promise<MtaStsPolicies> | undefined;

  constructor(private readonly deps: PlannerDeps) {
    const { delivery, spool } = deps.config;
    this.memory = delivery.tlsMemory ? new TlsMemory(tlsMemoryDir(spool.dir)) : undefined;
  }

  private now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }

  private async policies(): Promise<MtaStsPolicies> {
    const { config, lookups } = this.deps;
    const { caFile, mtaSts } = config.delivery;
    const ca = caFile === undefined ? undefined : await readFile(caFile, 'utf8');
    return new MtaStsPolicies(
      {
        resolveTxt: (name) => lookups.resolveTxt(name),
        resolveAddress: async (host) => {
          const [first] = await lookups.resolveAddresses(host);
          if (first === undefined) throw new Error(`no address for ${host}`);
          return first;
        },
      },
      { port: mtaSts.policyPort, ca, timeoutMs: POLICY_TIMEOUT_MS },
      join(config.spool.dir, 'mta-sts-policies.json'),
      () => this.now().getTime(),
    );
  }

  /** Rejects with a RouteError (its status says temporary or permanent) when there is no hop. */
  async plan(domain: string, route: Route): Promise<Destination> {
    const base = await routeFor(domain, route, this.deps.lookups, this.deps.random);
    // A smarthost is the operator's; an address literal ([192.0.2.1]) has no policy or name.
    if (route.type === 'smarthost' || /^\[.*\]$/.test(domain)) return base;
    const policy = await this.policy(domain);
    const remembered = (await this.memory?.recall(domain))?.level;
    const { caFile } = this.deps.config.delivery;
    const hops: Hop[] = [];
    const refused: string[] = [];
    for (const hop of base.hops) {
      const verdict = mxVerdict(policy.policy, hop.host);
      if (!verdict.deliver) {
        refused.push(verdict.reason);
        continue;
      }
      if (verdict.note !== undefined) this.deps.log?.warn({ domain, mx: hop.host }, verdict.note);
      hops.push({
        ...hop,
        ...(policy.policy?.mode === 'testing' ? { tlsReportedBy: 'MTA-STS policy (testing)' } : {}),
        ...hopTls(hop.tls, verdict, remembered),
        ...(caFile === undefined ? {} : { caFile }),
      });
    }
    if (hops.length === 0) throw new RouteError(refused.join('; '), TLS_POLICY_STATUS);
    // A stricter plan is another destination: an idle connection opened under a weaker one
    // (plaintext, before the domain's policy or memory asked for more) is never reused for it.
    const strictest = hops.some((hop) => hop.verifyCertificate)
      ? '+tls-verified'
      : hops.some((hop) => hop.tlsRequiredBy !== undefined)
        ? '+tls'
        : '';
    return { key: `${base.key}${strictest}`, hops: await withAddresses(hops, this.deps.lookups) };
  }

  /**
   * After connecting to an MX: what it showed raises the domain's remembered level, and a
   * hop whose policy only reports (MTA-STS testing) gets a log line when TLS fell short.
   */
  async observe(
    domain: string,
    route: Route,
    hop: Pick<Hop, 'host' | 'tlsReportedBy'>,
    security: TlsLevel,
    certificateError?: string,
  ): Promise<void> {
    const { host } = hop;
    if (hop.tlsReportedBy !== undefined && security !== 'tls-verified') {
      const reason =
        security === 'plain'
          ? 'no TLS (STARTTLS not offered)'
          : `certificate did not verify: ${certificateError ?? 'unknown reason'}`;
      this.deps.log?.warn(
        { domain, mx: host, tls: security, reason, policy: hop.tlsReportedBy },
        `MTA-STS testing: ${host} failed TLS validation (${reason}); delivering anyway`,
      );
    }
    if (!this.memory || route.type !== 'mx' || /^\[.*\]$/.test(domain)) return;
    try {
      if (await this.memory.remember(domain, security, host, this.now()))
        this.deps.log?.info({ domain, mx: host, tls: security }, 'TLS level remembered for the domain');
    } catch (error) {
      this.deps.log?.warn({ domain, err: String(error) }, 'cannot record the domain TLS level');
    }
  }

  private async policy(domain: string): Promise<PolicyLookup> {
    if (!this.deps.config.delivery.mtaSts.enabled) return { policy: undefined, source: 'none' };
    const pending = (this.sts ??= this.policies());
    // An unreadable caFile is the operator's to fix; until then nothing waits on a policy forever.
    pending.catch(() => {
      if (this.sts === pending) this.sts = undefined;
    });
    let sts: MtaStsPolicies;
    try {
      sts = await pending;
    } catch (error) {
      throw new RouteError(`MTA-STS: cannot read delivery.caFile: ${String(error)}`, '4.3.5');
    }
    const lookup = await sts.policyFor(domain);
    if (lookup.error !== undefined)
      this.deps.log?.info(
        { domain, error: lookup.error, applies: lookup.policy?.mode ?? 'none' },
        'MTA-STS policy lookup failed',
      );
    return lookup;
  }
}
