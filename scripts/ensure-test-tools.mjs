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
  // The authentication check is cross-checked by dkimpy (python3-dkim pulls in dnspython).
  '/usr/bin/dkimverify': 'python3-dkim',
  // sa-check is tested against a real spamd.
  '/usr/sbin/spamd': 'spamd',
  // contrib/systemd/mailwharf.service is checked by `systemd-analyze verify`.
  'systemd-analyze': 'systemd',
};

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

// Installing postfix may start its daemon where an init system runs; the tests only use
// smtp-sink and smtp-source, started with their own flags, so no system Postfix stays up.
function stopSystemPostfix() {
  if (spawnSync('sh', ['-c', 'pgrep -x master'], { stdio: 'ignore' }).status === 0) {
    spawnSync('postfix', ['stop'], { stdio: 'inherit' });
  }
}
/** Python module (imported by Debian's /usr/bin/python3) -> Debian package that provides it */
const PYTHON_MODULES = {
  // DKIM tests verify ed25519 signatures (nacl) and fetch keys from a loopback DNS server (dns).
  nacl: 'python3-nacl',
  'dns.resolver': 'python3-dnspython',
};

const importable = (module) =>
  spawnSync('/usr/bin/python3', ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;

const missing = [
  ...new Set([
    ...Object.entries(TOOLS)
      .filter(([command]) => !has(command))
      .map(([, pkg]) => pkg),
    ...Object.entries(PYTHON_MODULES)
      .filter(([module]) => !importable(module))
      .map(([, pkg]) => pkg),
  ]),
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
