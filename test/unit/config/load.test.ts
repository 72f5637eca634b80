import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { bundledConfigDir, ConfigError, loadConfigFile, validateConfig } from '../../../src/config/load.js';
import { policySchema, type Config } from '../../../src/config/schema.js';
import { applyOverrides, overridesFromEnv, overridesFromFlags } from '../../../src/config/overrides.js';

let dir: string;
let counter = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailwharf-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The smallest valid config: one relay listener and its policy. */
const listener = { name: 'smtp', role: 'relay', port: 2525, tls: 'none', policy: 'relay' } as const;
const minimal = { policies: { relay: { auth: 'none' } }, listeners: [listener] } as const;

/** A base directory for relative paths that is not the working directory. */
const base = '/srv/mailwharf';

async function writeConfig(value: unknown): Promise<string> {
  const path = join(dir, `config-${++counter}.yaml`);
  await writeFile(path, typeof value === 'string' ? value : stringify(value));
  return path;
}

async function load(value: unknown, env: Record<string, string> = {}): Promise<Config> {
  return loadConfigFile(await writeConfig(value), env, base);
}

/** The ConfigError a value (or YAML text) is refused with, and the file it was written to. */
async function refusal(
  value: unknown,
  env: Record<string, string> = {},
): Promise<{ message: string; path: string }> {
  const path = await writeConfig(value);
  const error: unknown = await loadConfigFile(path, env, base).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return { message: error instanceof Error ? error.message : '', path };
}

describe('the bundled configs', () => {
  it.each([
    // file, mode, ports, why
    ['dev.yaml', 'capture', [1025, 1587, 1465, 2525], 'the dev sink: unprivileged ports, nothing delivered'],
    ['mailwharf.yaml', 'relay', [25, 587, 465, 2525], 'production: the standard ports'],
  ] as const)('%s is valid (%s, %j): %s', async (name, mode, ports, _why) => {
    const config = await loadConfigFile(join(bundledConfigDir, name), {}, base);
    expect(config.mode).toBe(mode);
    expect(config.listeners.map((l) => l.port)).toEqual(ports);
    expect(config.listeners.map((l) => l.role)).toEqual(['relay', 'submission', 'submissions', 'submission']);
  });

  it('production shows every inboundAuth key, as its neighbours, set to the default', async () => {
    const text = await readFile(join(bundledConfigDir, 'mailwharf.yaml'), 'utf8');
    const shown = (parse(text) as { policies: { relay: { inboundAuth: Record<string, unknown> } } }).policies
      .relay.inboundAuth;
    const keys = Object.keys(policySchema.shape.inboundAuth.unwrap().shape);
    expect(Object.keys(shown).sort()).toEqual(keys.sort());
    expect(shown).toEqual(policySchema.shape.inboundAuth.unwrap().parse({}));
  });

  it('production keeps its absolute spool path; dev resolves its relative one', async () => {
    const production = await loadConfigFile(join(bundledConfigDir, 'mailwharf.yaml'), {}, base);
    const dev = await loadConfigFile(join(bundledConfigDir, 'dev.yaml'), {}, base);
    expect(production.spool.dir).toBe('/var/spool/mailwharf');
    expect(dev.spool.dir).toBe(join(base, 'spool'));
  });
});

describe('validation errors name the file and the field', () => {
  it.each(
    [
      // one row per refusal: the config, the text the message must contain, and why
      {
        why: 'a port out of range',
        value: { ...minimal, listeners: [{ ...listener, port: 70000 }] },
        expected: 'listeners[0].port: ',
      },
      {
        why: 'an IPv4 prefix over 32',
        value: { ...minimal, policies: { relay: { relay: { trustedNetworks: ['10.0.0.0/33'] } } } },
        expected: 'policies.relay.relay.trustedNetworks[0]: must be an IP address or CIDR',
      },
      {
        why: 'an IPv6 prefix over 128, at its index',
        value: { ...minimal, policies: { relay: { relay: { trustedNetworks: ['127.0.0.1', '::1/129'] } } } },
        expected: 'policies.relay.relay.trustedNetworks[1]: must be an IP address or CIDR',
      },
      {
        why: 'a second prefix is not silently ignored',
        value: { ...minimal, policies: { relay: { relay: { trustedNetworks: ['10.0.0.0/8/16'] } } } },
        expected: 'policies.relay.relay.trustedNetworks[0]: must be an IP address or CIDR',
      },
      {
        why: 'an empty prefix',
        value: { ...minimal, policies: { relay: { relay: { trustedNetworks: ['10.0.0.0/'] } } } },
        expected: 'policies.relay.relay.trustedNetworks[0]: must be an IP address or CIDR',
      },
      {
        why: 'a name is not a network',
        value: { ...minimal, policies: { relay: { relay: { trustedNetworks: ['intranet'] } } } },
        expected: 'policies.relay.relay.trustedNetworks[0]: must be an IP address or CIDR',
      },
      {
        why: 'an unknown top-level key',
        value: { ...minimal, surprise: true },
        expected: 'surprise: unknown key',
      },
      {
        why: 'a typo in a listener',
        value: { ...minimal, listeners: [{ ...listener, prot: 25 }] },
        expected: 'listeners[0].prot: unknown key',
      },
      {
        why: 'a typo deep in a policy',
        value: { ...minimal, policies: { relay: { limits: { maxMesageSize: 1 } } } },
        expected: 'policies.relay.limits.maxMesageSize: unknown key',
      },
      {
        why: 'a listener naming an undefined policy',
        value: { ...minimal, listeners: [{ ...listener, policy: 'nope' }] },
        expected: 'listeners[0].policy: names policy "nope", which is not defined under policies',
      },
      {
        why: 'submission with auth: none',
        value: { ...minimal, listeners: [{ ...listener, role: 'submission' }] },
        expected: 'listeners[0].policy: role submission needs a policy with auth: required (or optional)',
      },
      {
        why: 'submissions with auth: none',
        value: { ...minimal, listeners: [{ ...listener, role: 'submissions', tls: 'implicit' }] },
        expected: 'listeners[0].policy: role submissions needs a policy with auth',
      },
      {
        why: 'port 465 is implicit TLS',
        value: {
          ...minimal,
          policies: { sub: { auth: 'required' } },
          listeners: [{ ...listener, role: 'submissions', policy: 'sub' }],
        },
        expected: 'listeners[0].tls: role submissions needs tls: implicit',
      },
      {
        why: 'listener names are unique',
        value: { ...minimal, listeners: [listener, listener] },
        expected: 'listeners[1].name: duplicate listener name "smtp"',
      },
      { why: 'at least one listener', value: { ...minimal, listeners: [] }, expected: 'listeners: ' },
      {
        why: 'a cert without its key',
        value: { ...minimal, tls: { cert: '/x.pem' } },
        expected: 'tls: cert and key must be set together',
      },
      {
        why: 'a plain-text password',
        value: { ...minimal, auth: { users: [{ username: 'a', passwordHash: 'plain' }] } },
        expected: 'auth.users[0].passwordHash: must be a hash made by `mailwharf hash-password`',
      },
      {
        why: 'any credentials in relay mode would be an open relay',
        value: { ...minimal, auth: { acceptAnyCredentials: true } },
        expected: 'auth.acceptAnyCredentials: only allowed with mode: capture',
      },
      {
        why: 'a bad domain',
        value: { ...minimal, acceptedDomains: ['exa mple.com'] },
        expected: 'acceptedDomains[0]: must be a domain name',
      },
      { why: 'an unknown log level', value: { ...minimal, log: { level: 'loud' } }, expected: 'log.level: ' },
      { why: 'an empty file', value: null, expected: '(top level): ' },
    ].map((row) => [row.why, row] as const),
  )('%s', async (_why, { value, expected }) => {
    const { message, path } = await refusal(value);
    expect(message).toContain(`${path}: ${expected}`);
  });

  it('names every bad field, one line each', async () => {
    const { message, path } = await refusal({
      ...minimal,
      surprise: 1,
      listeners: [{ ...listener, port: -1 }],
    });
    const lines = message.split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line.startsWith(`${path}: `)).toBe(true);
    expect(message).toContain('listeners[0].port: ');
    expect(message).toContain('surprise: unknown key');
  });

  it('invalid YAML names the file', async () => {
    const { message, path } = await refusal('listeners: [\n');
    expect(message.startsWith(`${path}: invalid YAML: `)).toBe(true);
  });

  it('a missing file names the file', async () => {
    const path = join(dir, 'missing.yaml');
    await expect(loadConfigFile(path, {}, base)).rejects.toThrow(`${path}: cannot read the config file`);
  });

  it('validateConfig names the source it is given', () => {
    expect(() => validateConfig({ ...minimal, surprise: 1 }, 'inline')).toThrow(
      /^inline: surprise: unknown key$/,
    );
    expect(validateConfig(minimal, 'inline').listeners[0]?.host).toBe('0.0.0.0');
  });
});

describe('environment overrides', () => {
  it.each([
    // variable, value, the field it sets, why
    [
      'MAILWHARF_HOSTNAME',
      'mail.env.test',
      { hostname: 'mail.env.test' },
      'the name in the greeting and Received',
    ],
    ['MAILWHARF_SPOOL_DIR', '/var/spool/env', { spool: { dir: '/var/spool/env' } }, 'an absolute spool dir'],
    [
      'MAILWHARF_SPOOL_DIR',
      'env-spool',
      { spool: { dir: join(base, 'env-spool') } },
      'a relative one, resolved',
    ],
    ['MAILWHARF_LOG_LEVEL', 'debug', { log: { level: 'debug' } }, 'the log level'],
  ] as const)('%s=%s sets %j (%s)', async (variable, value, expected, _why) => {
    expect(await load(minimal, { [variable]: value })).toMatchObject(expected);
  });

  it('MAILWHARF_TLS_CERT and MAILWHARF_TLS_KEY set the certificate pair', async () => {
    const config = await load(minimal, {
      MAILWHARF_TLS_CERT: '/etc/env/cert.pem',
      MAILWHARF_TLS_KEY: 'key.pem',
    });
    expect(config.tls).toMatchObject({ cert: '/etc/env/cert.pem', key: join(base, 'key.pem') });
  });

  it('an override wins over the file', async () => {
    const config = await load(
      { ...minimal, hostname: 'file.example', spool: { dir: '/from/file' }, log: { level: 'warn' } },
      { MAILWHARF_HOSTNAME: 'env.example', MAILWHARF_SPOOL_DIR: '/from/env', MAILWHARF_LOG_LEVEL: 'error' },
    );
    expect(config).toMatchObject({
      hostname: 'env.example',
      spool: { dir: '/from/env' },
      log: { level: 'error' },
    });
  });

  it('a repeat window of 600 s, the most allowed, is kept (the forwarding e2e test uses it)', async () => {
    const config = await load(minimal, { MAILWHARF_SHUTDOWN_REPEAT_WINDOW: '600' });
    expect(config.shutdownRepeatWindowSeconds).toBe(600);
  });

  it('an empty variable is no override', async () => {
    const config = await load({ ...minimal, hostname: 'file.example' }, { MAILWHARF_HOSTNAME: '' });
    expect(config.hostname).toBe('file.example');
  });

  it.each([
    // env, the line expected (FILE stands for the file), why
    [
      { MAILWHARF_LOG_LEVEL: 'loud' },
      'MAILWHARF_LOG_LEVEL: log.level: Invalid option',
      'the variable is blamed, not the file',
    ],
    [
      { MAILWHARF_SMTP_PORT: 'twenty-five' },
      'MAILWHARF_SMTP_PORT: listeners[0].port: Invalid input: expected number',
      'not a number',
    ],
    [{ MAILWHARF_SMTP_PORT: '70000' }, 'MAILWHARF_SMTP_PORT: listeners[0].port: Too big', 'out of range'],
    [
      { MAILWHARF_UI: 'maybe' },
      'MAILWHARF_UI: http.enabled: Invalid input: expected boolean',
      'not a yes or no',
    ],
    [
      { MAILWHARF_SUBMISSION_PORT: '1587' },
      'MAILWHARF_SUBMISSION_PORT: the config has no listener named "submission"',
      'no such listener',
    ],
    [
      { MAILWHARF_TLS_CERT: '/etc/cert.pem' },
      'FILE (with MAILWHARF_TLS_CERT): tls: cert and key must be set together',
      'a cert without a key',
    ],
    [
      { MAILWHARF_SHUTDOWN_REPEAT_WINDOW: '1000' },
      'MAILWHARF_SHUTDOWN_REPEAT_WINDOW: shutdownRepeatWindowSeconds: at most 600 seconds: a forwarded copy comes within seconds',
      'a window past 10 minutes (milliseconds by mistake?)',
    ],
  ])('a bad override %j is named by its variable (%s)', async (env, expected, _why) => {
    const { message, path } = await refusal(minimal, env);
    expect(message).toContain(expected.replace('FILE', path));
    expect(message.split('\n')).toHaveLength(1);
  });

  it('one table gives every setting a variable; --host reaches every listener and the UI', async () => {
    const config = await load(
      { ...minimal, listeners: [listener, { ...listener, name: 'other', port: 2526 }] },
      {
        MAILWHARF_HOST: '0.0.0.0',
        MAILWHARF_HTTP_PORT: '18025',
        MAILWHARF_UI: 'true',
        MAILWHARF_SMTP_PORT: '0',
      },
    );
    expect(config.listeners.map((l) => [l.host, l.port])).toEqual([
      ['0.0.0.0', 0],
      ['0.0.0.0', 2526],
    ]);
    expect(config.http).toMatchObject({ host: '0.0.0.0', port: 18025, enabled: true });
  });

  it('applyOverrides leaves the parsed file unchanged', () => {
    const raw = { hostname: 'file.example', log: { level: 'info' } };
    const copy = structuredClone(raw);
    const { raw: out } = applyOverrides(
      raw,
      overridesFromEnv({ MAILWHARF_HOSTNAME: 'env.example', MAILWHARF_LOG_LEVEL: 'debug' }),
    );
    expect(raw).toEqual(copy);
    expect(out).toEqual({ hostname: 'env.example', log: { level: 'debug' } });
  });

  it.each([
    // raw, why
    [null, 'an empty file stays empty, for the schema to report'],
    [[1, 2], 'a list stays a list'],
    ['text', 'a scalar stays a scalar'],
  ])('applyOverrides(%j) does not invent a config (%s)', (raw, _why) => {
    expect(applyOverrides(raw, overridesFromEnv({ MAILWHARF_HOSTNAME: 'env.example' })).raw).toEqual(raw);
  });
});

describe('relative paths', () => {
  it.each(
    [
      // one row per path: the config, what it resolves to, and why
      {
        why: 'a relative spool dir',
        value: { ...minimal, spool: { dir: 'my-spool' } },
        expected: { spool: { dir: join(base, 'my-spool') } },
      },
      {
        why: 'an absolute spool dir stays',
        value: { ...minimal, spool: { dir: '/abs/spool' } },
        expected: { spool: { dir: '/abs/spool' } },
      },
      { why: 'the default spool dir', value: minimal, expected: { spool: { dir: join(base, 'spool') } } },
      {
        why: 'the default self-signed dir',
        value: minimal,
        expected: { tls: { selfSignedDir: join(base, 'certs') } },
      },
      {
        why: 'certificate paths, relative and absolute',
        value: { ...minimal, tls: { cert: 'tls/cert.pem', key: '/etc/key.pem' } },
        expected: { tls: { cert: join(base, 'tls/cert.pem'), key: '/etc/key.pem' } },
      },
    ].map((row) => [row.why, row] as const),
  )('%s (relative to the base dir given, not the working directory)', async (_why, { value, expected }) => {
    expect(await load(value)).toMatchObject(expected);
  });
});

describe('--tag, repeated', () => {
  const tagRules = (tag: string | string[]): unknown => {
    const { raw } = applyOverrides(structuredClone(minimal), overridesFromFlags({ tag }));
    return (raw as { sink?: { tagRules?: unknown } }).sink?.tagRules;
  };

  it.each([
    // values, the rules, why
    [['a=x', 'b=y'], ['a', 'b'], 'each value gives its rules, in order'],
    [['a=x b=y', 'c=z'], ['a', 'b', 'c'], 'a value may hold several rules'],
    ['a=x\nb=y', ['a', 'b'], 'one value over two lines is two rules'],
  ])('%j gives the rules of %j (%s)', (tag, tags, _why) => {
    const rules = tagRules(tag) as { tags: string[] }[];
    expect(rules.map((rule) => rule.tags[0])).toEqual(tags);
  });

  it('an unbalanced quote in one value does not swallow the next: it is refused, naming the flag', () => {
    expect(() => tagRules(['a="x y', 'b=z'])).toThrow(
      new ConfigError('--tag: unbalanced double quote in "a=\\"x y"'),
    );
  });
});
