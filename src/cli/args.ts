import { parseArgs } from 'node:util';
import { SETTINGS } from '../config/settings.js';

type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };

/** Flags every command takes, then one (two for yes/no) per row of the settings table. */
const OPTIONS: Record<string, OptionSpec> = {
  config: { type: 'string', short: 'c' },
  dev: { type: 'boolean' },
  json: { type: 'boolean' },
  envelope: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  ...Object.fromEntries(
    SETTINGS.flatMap((setting): [string, OptionSpec][] =>
      setting.kind === 'boolean'
        ? [
            [setting.flag, { type: 'boolean' }],
            [`no-${setting.flag}`, { type: 'boolean' }],
          ]
        : [[setting.flag, { type: 'string', ...(setting.kind === 'tag-rules' ? { multiple: true } : {}) }]],
    ),
  ),
};

export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | readonly (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
}

/** Parses argv strictly: an unknown flag is a usage error (TypeError with a code from node:util). */
export function parseCliArgs(argv: readonly string[]): ParsedArgs {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: OPTIONS,
  });
  return { values, positionals };
}
