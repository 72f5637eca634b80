import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { applyOverrides, blame, overridesFromEnv, type OverriddenPath, type Override } from './overrides.js';
import { configSchema, type Config } from './schema.js';

export { ConfigError } from './errors.js';

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

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    return out === '' ? String(key) : `${out}.${String(key)}`;
  }, '');
}

/** One line per problem: who gave the value (file, variable or flag), the field, what is wrong. */
function describeIssues(file: string, error: z.ZodError, overridden: readonly OverriddenPath[]): string {
  return error.issues
    .flatMap((issue) => {
      // A misspelt key is named as its own path, so the line reads like any other field.
      const paths =
        issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...issue.path, key]) : [issue.path];
      const message = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message;
      return paths.map(
        (path) => `${blame(path, overridden, file)}: ${formatPath(path) || '(top level)'}: ${message}`,
      );
    })
    .join('\n');
}

/** Validates a config value; the message names every bad field path and who set it. */
export function validateConfig(
  value: unknown,
  source: string,
  overridden: readonly OverriddenPath[] = [],
): Config {
  // jitless: the config is parsed once, so zod's compiled fast path for each object (new
  // Function per shape) costs more than it saves: ~20 ms of CPU off every start.
  const parsed = configSchema.safeParse(value, { jitless: true });
  if (!parsed.success) throw new ConfigError(describeIssues(source, parsed.error, overridden));
  return parsed.data;
}

type Env = Readonly<Record<string, string | undefined>>;

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

/** A validated config and, for later checks, who set each field (the file, a variable or a flag). */
export interface LoadedConfig {
  readonly config: Config;
  readonly file: string;
  sourceOf(path: readonly PropertyKey[]): string;
}

/**
 * Reads, overrides and validates a config file. Precedence: the file, then MAILWHARF_*
 * variables, then `flags` (command-line overrides, applied last).
 */
export async function loadConfig(
  path: string,
  env: Env = process.env,
  baseDir = process.cwd(),
  flags: readonly Override[] = [],
): Promise<LoadedConfig> {
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
    if (error instanceof YAMLParseError) {
      throw new ConfigError(`${path}: invalid YAML: ${error.message.split('\n')[0] ?? ''}`);
    }
    throw error;
  }
  const { raw: overridden, paths } = applyOverrides(raw, [...overridesFromEnv(env), ...flags]);
  return {
    config: resolvePaths(validateConfig(overridden, path, paths), baseDir),
    file: path,
    sourceOf: (field) => blame(field, paths, path),
  };
}

/** loadConfig for callers that need only the config. */
export async function loadConfigFile(
  path: string,
  env: Env = process.env,
  baseDir = process.cwd(),
  flags: readonly Override[] = [],
): Promise<Config> {
  return (await loadConfig(path, env, baseDir, flags)).config;
}
