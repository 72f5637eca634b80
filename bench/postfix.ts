/**
 * smtp-source and smtp-sink come with Debian's postfix package. When they are missing the
 * bench installs it; if that install started a system Postfix, the bench stops it again.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SMTP_SOURCE } from './drive.js';
import { SMTP_SINK } from './peers/smtp-sink.js';

const succeeds = (command: string, args: readonly string[]): boolean =>
  spawnSync(command, args, { stdio: 'ignore', timeout: 30_000 }).status === 0;

/** `postfix status` or a Postfix master process. */
export const systemPostfixRunning = (): boolean =>
  succeeds('postfix', ['status']) || succeeds('pgrep', ['-x', 'master']);

export function ensurePostfixTools(log: (line: string) => void): void {
  if (existsSync(SMTP_SOURCE) && existsSync(SMTP_SINK)) return;
  const runningBefore = systemPostfixRunning();
  log('bench: smtp-source/smtp-sink missing; installing the postfix package with apt-get');
  const asRoot = (command: string, args: readonly string[]): [string, string[]] =>
    process.getuid?.() === 0 ? [command, [...args]] : ['sudo', [command, ...args]];
  const apt = (...args: string[]): void => {
    execFileSync(...asRoot('apt-get', args), {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 600_000,
    });
  };
  apt('update', '-qq');
  apt('install', '-y', '-qq', '--no-install-recommends', 'postfix');
  if (!runningBefore && systemPostfixRunning()) {
    log('bench: the install started a system Postfix; stopping it (postfix stop)');
    spawnSync(...asRoot('postfix', ['stop']), { stdio: 'inherit', timeout: 60_000 });
  }
  if (!existsSync(SMTP_SOURCE))
    throw new Error(`bench: ${SMTP_SOURCE} still missing after installing postfix`);
}
