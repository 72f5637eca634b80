import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';

/** A configuration problem, said once, naming the source and the field. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The package's own folder, found from this file whether it runs from src/ or dist/src/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(resolve(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('mailwharf: package.json not found above ' + import.meta.url);
    dir = parent;
  }
  return dir;
}

/** The config/ folder shipped with the package (dev.yaml, mailwharf.yaml). */
export const bundledConfigDir = resolve(packageRoot(), 'config');

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    return out === '' ? String(key) : `${out}.${String(key)}`;
  }, '');
}

function describeIssues(source: string, error: z.ZodError): string {
  return error.issues
    .map((issue) => `${source}: ${formatPath(issue.path) || '(top level)'}: ${issue.message}`)
    .join('\n');
}

/** Validates a config value; the message names every bad field path. */
export function validateConfig(value: unknown, source: string): Config {
  const parsed = configSchema.safeParse(value);
  if (!parsed.success) throw new ConfigError(describeIssues(source, parsed.error));
  return parsed.data;
}

type Env = Readonly<Record<string, string | undefined>>;

/** The settings a deployment changes without editing the file. */
export function applyEnvOverrides(raw: unknown, env: Env): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const config: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  const section = (key: string): Record<string, unknown> => {
    const current = config[key];
    const copy =
      typeof current === 'object' && current !== null ? { ...(current as Record<string, unknown>) } : {};
    config[key] = copy;
    return copy;
  };
  if (env.MAILWHARF_HOSTNAME) config.hostname = env.MAILWHARF_HOSTNAME;
  if (env.MAILWHARF_SPOOL_DIR) section('spool').dir = env.MAILWHARF_SPOOL_DIR;
  if (env.MAILWHARF_TLS_CERT) section('tls').cert = env.MAILWHARF_TLS_CERT;
  if (env.MAILWHARF_TLS_KEY) section('tls').key = env.MAILWHARF_TLS_KEY;
  if (env.MAILWHARF_LOG_LEVEL) section('log').level = env.MAILWHARF_LOG_LEVEL;
  return config;
}

/** Relative paths in a config file are relative to the working directory, as in Postfix's main.cf. */
function resolvePaths(config: Config, baseDir: string): Config {
  const at = (path: string): string => (isAbsolute(path) ? path : resolve(baseDir, path));
  return {
    ...config,
    spool: { ...config.spool, dir: at(config.spool.dir) },
    tls: {
      ...config.tls,
      selfSignedDir: at(config.tls.selfSignedDir),
      ...(config.tls.cert === undefined ? {} : { cert: at(config.tls.cert) }),
      ...(config.tls.key === undefined ? {} : { key: at(config.tls.key) }),
    },
  };
}

export async function loadConfigFile(
  path: string,
  env: Env = process.env,
  baseDir = process.cwd(),
): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`${path}: cannot read the config file (${reason})`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    if (error instanceof YAMLParseError) throw new ConfigError(`${path}: invalid YAML: ${error.message}`);
    throw error;
  }
  return resolvePaths(validateConfig(applyEnvOverrides(raw, env), path), baseDir);
}
