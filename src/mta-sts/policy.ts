/**
 * MTA-STS (RFC 8461) as data: the DNS record, the policy file, and which MX hosts a policy
 * allows. Written here rather than taken from mailauth, whose wildcard matches any depth
 * ("*.example.com" matching "a.b.example.com"); §4.1 allows exactly one leftmost label.
 */

export type StsMode = 'enforce' | 'testing' | 'none';

export interface StsPolicy {
  readonly mode: StsMode;
  /** MX patterns, lower-case: "mx.example.com" or "*.example.com". */
  readonly mx: readonly string[];
  /** Seconds the policy may be cached (at most one year, §3.2). */
  readonly maxAge: number;
}

/** §3.2: max_age is at most 31557600 seconds. */
const MAX_AGE_LIMIT = 31_557_600;

/**
 * The policy id of a domain's `_mta-sts` TXT answer (each record a list of strings, as
 * resolveTxt returns them), or undefined when there is none — or more than one, which §3.1
 * tells senders to treat as no policy.
 */
export function policyIdFromTxt(records: readonly (readonly string[])[]): string | undefined {
  const sts = records.map((parts) => parts.join('')).filter((text) => /^v=STSv1\s*(;|$)/.test(text));
  if (sts.length !== 1) return undefined;
  const fields = new Map(
    (sts[0] ?? '').split(';').map((field) => {
      const at = field.indexOf('=');
      return [field.slice(0, at).trim(), field.slice(at + 1).trim()] as const;
    }),
  );
  const id = fields.get('id');
  return id !== undefined && /^[A-Za-z0-9]{1,32}$/.test(id) ? id : undefined;
}

export type ParsedPolicy =
  { readonly ok: true; readonly policy: StsPolicy } | { readonly ok: false; readonly error: string };

/** The policy file (§3.2): "key: value" lines, LF or CRLF; mx may repeat. */
export function parsePolicy(text: string): ParsedPolicy {
  let version: string | undefined;
  let mode: string | undefined;
  let maxAge: string | undefined;
  const mx: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === 'version') version ??= value;
    else if (key === 'mode') mode ??= value;
    else if (key === 'max_age') maxAge ??= value;
    else if (key === 'mx' && value !== '') mx.push(value.toLowerCase().replace(/\.$/, ''));
  }
  if (version !== 'STSv1') return { ok: false, error: `version is ${version ?? 'missing'}, not STSv1` };
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none')
    return { ok: false, error: `mode is ${mode ?? 'missing'}` };
  if (maxAge === undefined || !/^\d{1,10}$/.test(maxAge) || Number(maxAge) > MAX_AGE_LIMIT)
    return { ok: false, error: `max_age is ${maxAge ?? 'missing'}` };
  if (mode !== 'none' && mx.length === 0) return { ok: false, error: 'no mx' };
  return { ok: true, policy: { mode, mx, maxAge: Number(maxAge) } };
}

/** §4.1: an exact name, or "*." standing for exactly one leftmost label. */
export function mxMatches(pattern: string, host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (!pattern.startsWith('*.')) return pattern === name;
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot + 1) === pattern.slice(2);
}

export type MxVerdict =
  /** Deliver; `requireVerifiedTls`: only over TLS with a certificate valid for the MX name. */
  | { readonly deliver: true; readonly requireVerifiedTls: boolean; readonly note?: string }
  | { readonly deliver: false; readonly reason: string };

/** What a policy says about delivering to one MX host (§5: enforce refuses, testing reports). */
export function mxVerdict(policy: StsPolicy | undefined, host: string): MxVerdict {
  if (!policy || policy.mode === 'none') return { deliver: true, requireVerifiedTls: false };
  const listed = policy.mx.some((pattern) => mxMatches(pattern, host));
  if (policy.mode === 'testing')
    return listed
      ? { deliver: true, requireVerifiedTls: false }
      : {
          deliver: true,
          requireVerifiedTls: false,
          note: `MTA-STS testing: ${host} is not in the policy's mx`,
        };
  return listed
    ? { deliver: true, requireVerifiedTls: true }
    : { deliver: false, reason: `MTA-STS policy (enforce) does not list MX ${host}` };
}
