/**
 * The one table of settings a dev or container user changes without editing the file: each row
 * is a command-line flag and a MAILWHARF_* variable writing the same config path(s). --help,
 * the README and the override code all read this table.
 */

/** A step into the config: an object key, every array element, or the listener with this name. */
export type PathStep = string | { readonly each: true } | { readonly listener: string };

export interface Setting {
  /** `--flag`; the variable is MAILWHARF_ plus the flag in upper case with `_` for `-`. */
  readonly flag: string;
  /** tag-rules: Mailpit's --tag syntax, read by parseTagArgument; the flag may be repeated. */
  readonly kind: 'string' | 'number' | 'boolean' | 'tag-rules';
  /** Shown by --help as the flag's value, e.g. PORT. */
  readonly value: string;
  readonly paths: readonly (readonly PathStep[])[];
  readonly help: string;
  /** A variable name kept from before the table (MAILWHARF_SPOOL_DIR). */
  readonly env?: string;
}

const listenerPort = (name: string): Setting => ({
  flag: `${name}-port`,
  kind: 'number',
  value: 'PORT',
  paths: [['listeners', { listener: name }, 'port']],
  help: `port of the "${name}" listener`,
});

export const SETTINGS: readonly Setting[] = [
  {
    flag: 'host',
    kind: 'string',
    value: 'ADDRESS',
    paths: [
      ['listeners', { each: true }, 'host'],
      ['http', 'host'],
    ],
    help: 'address every listener and the web UI bind (0.0.0.0 in a container)',
  },
  listenerPort('smtp'),
  listenerPort('submission'),
  listenerPort('submissions'),
  listenerPort('alt-submission'),
  {
    flag: 'http-port',
    kind: 'number',
    value: 'PORT',
    paths: [['http', 'port']],
    help: 'web UI and API port',
  },
  {
    flag: 'ui',
    kind: 'boolean',
    value: '',
    paths: [['http', 'enabled']],
    help: 'serve the web UI and API (--no-ui: off)',
  },
  {
    flag: 'http-base-path',
    kind: 'string',
    value: '/PATH',
    paths: [['http', 'basePath']],
    help: 'serve the UI under a path prefix',
  },
  {
    flag: 'metrics-host',
    kind: 'string',
    value: 'ADDRESS',
    paths: [['metrics', 'host']],
    help: 'metrics listener address',
  },
  {
    flag: 'metrics-port',
    kind: 'number',
    value: 'PORT',
    paths: [['metrics', 'port']],
    help: 'serve /metrics on its own port (works without the UI)',
  },
  {
    flag: 'hostname',
    kind: 'string',
    value: 'NAME',
    paths: [['hostname']],
    help: 'name in the greeting and Received',
  },
  {
    flag: 'spool',
    env: 'MAILWHARF_SPOOL_DIR',
    kind: 'string',
    value: 'DIR',
    paths: [['spool', 'dir']],
    help: 'spool directory (--dev: a temporary one, removed on exit)',
  },
  {
    flag: 'certs-dir',
    kind: 'string',
    value: 'DIR',
    paths: [['tls', 'selfSignedDir']],
    help: 'where the self-signed certificate is kept',
  },
  {
    flag: 'tls-cert',
    kind: 'string',
    value: 'FILE',
    paths: [['tls', 'cert']],
    help: 'certificate chain (PEM)',
  },
  { flag: 'tls-key', kind: 'string', value: 'FILE', paths: [['tls', 'key']], help: 'private key (PEM)' },
  {
    flag: 'log-level',
    kind: 'string',
    value: 'LEVEL',
    paths: [['log', 'level']],
    help: 'fatal, error, warn, info, debug, trace or silent',
  },
  {
    flag: 'shutdown-repeat-window',
    kind: 'number',
    value: 'SECONDS',
    paths: [['shutdownRepeatWindowSeconds']],
    help: "the stop signal again within this is a parent's forwarded copy (default 1)",
  },
  {
    flag: 'tag',
    kind: 'tag-rules',
    value: '"TAG=SEARCH"',
    paths: [['sink', 'tagRules']],
    help: "tag rules, as Mailpit's --tag: TAG[,TAG]=SEARCH, whitespace separated (replaces sink.tagRules)",
  },
  {
    flag: 'max-messages',
    kind: 'number',
    value: 'N',
    paths: [['sink', 'retention', 'maxMessages']],
    help: 'captured messages kept (0: no limit)',
  },
];

export function envName(setting: Setting): string {
  return setting.env ?? `MAILWHARF_${setting.flag.toUpperCase().replace(/-/g, '_')}`;
}

/** The --help lines for the table: flag, variable, meaning. */
export function settingsHelp(): string {
  const rows = SETTINGS.map((setting) => {
    const flag =
      setting.kind === 'boolean'
        ? `--${setting.flag}, --no-${setting.flag}`
        : `--${setting.flag} ${setting.value}`;
    return [flag, envName(setting), setting.help] as const;
  });
  const flagWidth = Math.max(...rows.map(([flag]) => flag.length));
  const envWidth = Math.max(...rows.map(([, env]) => env.length));
  return rows
    .map(([flag, env, help]) => `  ${flag.padEnd(flagWidth)}  ${env.padEnd(envWidth)}  ${help}`)
    .join('\n');
}
