#!/usr/bin/env node
// Installs the Debian packages the test suite drives as real clients, when missing, so
// that `npm test` works on a fresh machine. Needs root (or sudo) only when something is missing.
import { execFileSync, spawnSync } from 'node:child_process';

/** command (on PATH or an absolute path) -> Debian package that provides it */
const TOOLS = {
  curl: 'curl',
  openssl: 'openssl',
  python3: 'python3',
  '/usr/sbin/smtp-sink': 'postfix',
  '/usr/sbin/smtp-source': 'postfix',
  '/usr/sbin/haproxy': 'haproxy',
  // The web UI's browser tests drive Debian's Chromium through playwright-core.
  '/usr/bin/chromium': 'chromium',
  // An independent DKIM verifier (python3-dkim, with python3-nacl for Ed25519) checks our signatures.
  '/usr/bin/dkimverify': 'python3-dkim',
};

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

// Installing postfix may start its daemon where an init system runs; the tests only use
// smtp-sink and smtp-source, started with their own flags, so no system Postfix stays up.
function stopSystemPostfix() {
  if (spawnSync('sh', ['-c', 'pgrep -x master'], { stdio: 'ignore' }).status === 0) {
    spawnSync('postfix', ['stop'], { stdio: 'inherit' });
  }
}
const missing = [
  ...new Set(
    Object.entries(TOOLS)
      .filter(([command]) => !has(command))
      .map(([, pkg]) => pkg),
  ),
];

if (missing.length === 0) process.exit(0);
console.log(`ensure-test-tools: installing ${missing.join(' ')}`);
const asRoot = process.getuid?.() === 0 ? [] : ['sudo'];
const run = (args) =>
  execFileSync(asRoot[0] ?? args[0], asRoot.length ? args : args.slice(1), {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
try {
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...missing]);
  if (missing.includes('postfix')) stopSystemPostfix();
} catch (error) {
  console.error(`ensure-test-tools: could not install ${missing.join(' ')}: ${error.message}`);
  process.exit(1);
}
