import { ConfigError } from './errors.js';
import { envName, SETTINGS, type PathStep, type Setting } from './settings.js';
import { parseTagArgument } from './tag-argument.js';

type Env = Readonly<Record<string, string | undefined>>;
type Key = string | number;

/** One value given for a setting, and who gave it (`--smtp-port` or `MAILWHARF_SMTP_PORT`). */
export interface Override {
  readonly setting: Setting;
  /** A repeated flag (--tag) gives its values as a list, each parsed on its own. */
  readonly value: string | boolean | readonly string[];
  readonly source: string;
}

/** A concrete config path an override wrote, so a bad value is blamed on its source. */
export interface OverriddenPath {
  readonly path: readonly Key[];
  readonly source: string;
}

/** Every MAILWHARF_* variable of the table that is set (empty counts as unset). */
export function overridesFromEnv(env: Env): Override[] {
  return SETTINGS.flatMap((setting) => {
    const value = env[envName(setting)];
    return value === undefined || value === '' ? [] : [{ setting, value, source: envName(setting) }];
  });
}

/** Flags parsed by node:util parseArgs, by flag name; `--no-ui` arrives as `no-ui: true`. */
export function overridesFromFlags(values: Readonly<Record<string, unknown>>): Override[] {
  return SETTINGS.flatMap((setting): Override[] => {
    const given = values[setting.flag];
    if (setting.kind === 'boolean') {
      if (values[`no-${setting.flag}`] === true)
        return [{ setting, value: false, source: `--no-${setting.flag}` }];
      return given === true ? [{ setting, value: true, source: `--${setting.flag}` }] : [];
    }
    // A repeated flag (--tag) gives its values in order, kept apart so that an unbalanced quote
    // in one cannot swallow the next.
    if (Array.isArray(given)) {
      const values = given.filter((v): v is string => typeof v === 'string');
      return values.length > 0 ? [{ setting, value: values, source: `--${setting.flag}` }] : [];
    }
    return typeof given === 'string' ? [{ setting, value: given, source: `--${setting.flag}` }] : [];
  });
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

/** Text to the setting's type when it reads as one; otherwise left as text for the schema to refuse. */
function typed(setting: Setting, given: Override['value'], source: string): unknown {
  if (setting.kind === 'tag-rules' && typeof given !== 'boolean') {
    // Each value on its own, the rules of all of them in order: one list, as if given once.
    return (typeof given === 'string' ? [given] : given).flatMap((text) => {
      const rules = parseTagArgument(text);
      if ('problem' in rules) throw new ConfigError(`${source}: ${rules.problem}`);
      return rules;
    });
  }
  const value = typeof given === 'string' || typeof given === 'boolean' ? given : given.join(' ');
  if (typeof value === 'boolean' || setting.kind === 'string') return value;
  if (setting.kind === 'number') return /^\d+$/.test(value) ? Number(value) : value;
  const lower = value.toLowerCase();
  return TRUE.has(lower) ? true : FALSE.has(lower) ? false : value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Writes `value` at `steps` inside `node` (mutating copies made by the caller); returns the paths written. */
function write(
  node: unknown,
  steps: readonly PathStep[],
  value: unknown,
  at: readonly Key[],
  source: string,
): Key[][] {
  const [step, ...rest] = steps;
  if (step === undefined) return [];
  if (typeof step === 'string') {
    if (!isRecord(node)) return [];
    if (rest.length === 0) {
      node[step] = value;
      return [[...at, step]];
    }
    if (typeof node[step] !== 'object' || node[step] === null) node[step] = {};
    return write(node[step], rest, value, [...at, step], source);
  }
  if (!Array.isArray(node)) return [];
  if ('each' in step)
    return node.flatMap((element, index) => write(element, rest, value, [...at, index], source));
  const index = node.findIndex((element) => isRecord(element) && element.name === step.listener);
  if (index < 0) throw new ConfigError(`${source}: the config has no listener named "${step.listener}"`);
  return write(node[index], rest, value, [...at, index], source);
}

/** Applies overrides in order (later wins) to a copy of the raw config. */
export function applyOverrides(
  raw: unknown,
  overrides: readonly Override[],
): { raw: unknown; paths: OverriddenPath[] } {
  if (!isRecord(raw)) return { raw, paths: [] };
  const copy: unknown = structuredClone(raw);
  const paths: OverriddenPath[] = [];
  for (const { setting, value, source } of overrides) {
    for (const steps of setting.paths) {
      for (const path of write(copy, steps, typed(setting, value, source), [], source))
        paths.push({ path, source });
    }
  }
  return { raw: copy, paths };
}

const startsWith = (path: readonly PropertyKey[], prefix: readonly PropertyKey[]): boolean =>
  prefix.length <= path.length && prefix.every((key, i) => key === path[i]);

/**
 * The source to blame for a problem at `path`: the last override that wrote it or a parent of
 * it; else the file, naming any override written inside it (a check on a whole section).
 */
export function blame(path: readonly PropertyKey[], paths: readonly OverriddenPath[], file: string): string {
  const above = paths.filter((written) => startsWith(path, written.path));
  const last = above.at(-1);
  if (last) return last.source;
  const inside = path.length === 0 ? [] : paths.filter((written) => startsWith(written.path, path));
  const sources = [...new Set(inside.map((written) => written.source))];
  return sources.length === 0 ? file : `${file} (with ${sources.join(', ')})`;
}
