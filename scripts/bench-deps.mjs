// Installs the benchmark's peers (Haraka, MailDev, smtp-tester) into bench/node_modules, only
// when they are missing or the lock changed: they are not the project's dependencies, and
// Haraka needs a newer Node than mailwharf does.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const bench = join(import.meta.dirname, '..', 'bench');
const lock = join(bench, 'package-lock.json');
const installed = join(bench, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  process.stderr.write('bench: installing the peers in bench/node_modules\n');
  execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['ci', '--no-audit', '--no-fund'], {
    cwd: bench,
    stdio: ['ignore', process.stderr, 'inherit'],
  });
}
