import { settingsHelp } from '../config/settings.js';

/** What `help` and `--help` print about one command. */
export interface CommandHelp {
  /** One or more usage lines, without the leading `mailwharf `. */
  readonly usage: readonly string[];
  readonly summary: string;
  /** Extra paragraphs for `help COMMAND`. */
  readonly details?: string;
}

const CONFIG_CHOICE = `config: --dev (the bundled dev profile), --config PATH (-c), or the bundled production
profile (config/mailwharf.yaml). Each setting below overrides the file; a flag beats its variable.`;

export function commandUsage(name: string, help: CommandHelp): string {
  const lines = help.usage.map((line) => `  mailwharf ${line}`).join('\n');
  const extra = help.details === undefined ? '' : `\n\n${help.details}`;
  return `usage:\n${lines}\n\n${help.summary}${extra}\n`;
}

export function globalUsage(commands: Readonly<Record<string, CommandHelp>>): string {
  const lines = Object.values(commands).flatMap((help) => help.usage);
  const width = Math.max(...lines.map((line) => line.length));
  const rows = Object.values(commands).flatMap((help) =>
    help.usage.map(
      (line, index) => `  mailwharf ${line.padEnd(width)}${index === 0 ? `  ${help.summary}` : ''}`,
    ),
  );
  return [
    'usage:',
    ...rows,
    '  mailwharf --version | -v',
    '',
    CONFIG_CHOICE,
    '',
    'settings (flag, environment variable):',
    settingsHelp(),
    '',
    'exit codes: 0 ok, 1 runtime failure (e.g. a port in use), 2 usage or config error.',
    '`mailwharf help COMMAND` or `mailwharf COMMAND --help` shows one command.',
    '',
  ].join('\n');
}
