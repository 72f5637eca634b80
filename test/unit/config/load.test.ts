import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { bundledConfigDir, ConfigError, loadConfigFile } from '../../../src/config/load.js';

describe('loadConfigFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailwharf-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const minimal = {
    policies: { relay: { auth: 'none' } },
    listeners: [{ name: 'smtp', role: 'relay', port: 2525, tls: 'none', policy: 'relay' }],
  };

  async function load(value: unknown, env: Record<string, string> = {}): Promise<unknown> {
    const path = join(dir, `c${String(Math.random()).slice(2)}.yaml`);
    await writeFile(path, typeof value === 'string' ? value : stringify(value));
    return loadConfigFile(path, env, dir).catch((error: unknown) => error);
  }

  it.each(['dev.yaml', 'mailwharf.yaml'])('the bundled %s is valid', async (name) => {
    const config = await loadConfigFile(join(bundledConfigDir, name), {});
    expect(config.listeners.map((l) => l.role)).toEqual(['relay', 'submission', 'submissions', 'submission']);
  });

  it.each([
    // value, the field path and words the message must name
    [{ ...minimal, listeners: [{ ...minimal.listeners[0], port: 70000 }] }, 'listeners[0].port:'],
    [{ ...minimal, policies: { relay: { relay: { trustedNetworks: ['10.0.0.0/33'] } } } }, 'policies.relay.relay.trustedNetworks[0]: must be an IP address or CIDR'],
    [{ ...minimal, surprise: true }, '(top level): Unrecognized key: "surprise"'],
    [{ ...minimal, listeners: [{ ...minimal.listeners[0], policy: 'nope' }] }, 'listeners[0].policy: names policy "nope", which is not defined'],
    [{ ...minimal, listeners: [{ ...minimal.listeners[0], role: 'submission' }] }, 'listeners[0].policy: role submission needs a policy with auth'],
    [{ ...minimal, listeners: [{ ...minimal.listeners[0], role: 'submissions', policy: 'relay' }] }, 'listeners[0].tls: role submissions needs tls: implicit'],
    [{ ...minimal, tls: { cert: '/x.pem' } }, 'tls: cert and key must be set together'],
    [{ ...minimal, auth: { users: [{ username: 'a', passwordHash: 'plain' }] } }, 'auth.users[0].passwordHash: must be a hash made by `mailwharf hash-password`'],
  ])('%#: names %s', async (value, expected) => {
    const error = await load(value);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(expected);
    expect((error as Error).message).toMatch(/^\/.+\.yaml: /);
  });

  it('invalid YAML names the file', async () => {
    const error = await load('listeners: [\n');
    expect((error as Error).message).toMatch(/\.yaml: invalid YAML: /);
  });

  it('environment overrides what deployments change', async () => {
    const config = await load(minimal, {
      MAILWHARF_HOSTNAME: 'mail.env.test',
      MAILWHARF_SPOOL_DIR: '/var/spool/env',
      MAILWHARF_TLS_CERT: '/etc/env/cert.pem',
      MAILWHARF_TLS_KEY: '/etc/env/key.pem',
      MAILWHARF_LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      hostname: 'mail.env.test',
      spool: { dir: '/var/spool/env' },
      tls: { cert: '/etc/env/cert.pem', key: '/etc/env/key.pem' },
      log: { level: 'debug' },
    });
  });

  it('a bad override is named by its field', async () => {
    const error = await load(minimal, { MAILWHARF_LOG_LEVEL: 'loud' });
    expect((error as Error).message).toContain('log.level:');
  });

  it('relative paths resolve against the working directory', async () => {
    const config = await load({ ...minimal, spool: { dir: 'my-spool' } });
    expect(config).toMatchObject({ spool: { dir: join(dir, 'my-spool') } });
  });
});
