#!/usr/bin/env node
// The same delivery as bench/delivery.mjs, done by a private Postfix instance (Debian
// postfix, its own config and queue directories, loopback only): 2,000 messages are queued
// while the smtp transport is deferred, then released to smtp-sink with `postqueue -f`, and
// timed until the queue is empty. Run as root (postfix -c starts a master of its own).
// A benchmark: it prints figures.
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONNECTIONS, MESSAGES, freePort, queueLoad, report, startSink, waitFor } from './relay-load.mjs';

/** Queue files under a Postfix queue directory's hashed subdirectories. */
async function countFiles(dir) {
  let count = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    count += entry.isDirectory() ? await countFiles(join(dir, entry.name)) : 1;
  }
  return count;
}

const root = await mkdtemp(join(tmpdir(), 'mailwharf-bench-postfix-'));
const config = join(root, 'etc');
const queue = join(root, 'queue');
const data = join(root, 'data');
// Postfix's daemons run as the postfix user: the directories must be reachable for it.
await chmod(root, 0o755);
await mkdir(config);
await mkdir(data);
await mkdir(queue);
execFileSync('chown', ['postfix:postfix', data]);
const smtpdPort = await freePort();
const sinkPort = await freePort();
const postconf = (...settings) => execFileSync('postconf', ['-c', config, '-e', ...settings]);
await writeFile(join(config, 'main.cf'), '');
postconf(
  'compatibility_level=3.6',
  `queue_directory=${queue}`,
  `data_directory=${data}`,
  'myhostname=bench.test',
  'mydestination=',
  'inet_interfaces=127.0.0.1',
  'inet_protocols=ipv4',
  'mynetworks=127.0.0.0/8',
  `relayhost=[127.0.0.1]:${sinkPort}`,
  'defer_transports=smtp',
  // As many connections to the one destination as mailwharf's bench allows.
  `default_destination_concurrency_limit=${String(CONNECTIONS)}`,
  `smtp_destination_concurrency_limit=${String(CONNECTIONS)}`,
  'smtp_tls_security_level=none',
  'alias_maps=',
  'alias_database=',
  'local_recipient_maps=',
  'smtpd_relay_restrictions=permit_mynetworks,reject',
  `maillog_file_prefixes=${root}`,
  `maillog_file=${join(root, 'maillog')}`,
  'syslog_name=postfix-bench',
  'biff=no',
);
const master = (await readFile('/etc/postfix/master.cf', 'utf8'))
  .split('\n')
  .filter((line) => !/^smtp\s+inet\b/.test(line))
  .map((line) => line.replace(/^(\S+\s+\S+\s+\S+\s+\S+\s+)y(\s)/, '$1n$2')) // no chroot
  .join('\n');
await writeFile(join(config, 'master.cf'), `127.0.0.1:${smtpdPort} inet n - n - - smtpd\n${master}\n`);
const postfix = (...args) =>
  execFileSync('postfix', ['-c', config, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
try {
  postfix('check');
  postfix('start');
} catch (error) {
  console.error(await readFile(join(root, 'maillog'), 'utf8').catch(() => ''));
  throw error;
}
try {
  await waitFor(
    () =>
      new Promise((done) => {
        const s = connect(smtpdPort, '127.0.0.1', () => (s.destroy(), done(true)));
        s.once('error', () => done(false));
      }),
    'postfix smtpd listening',
  );
  await queueLoad(smtpdPort);
  await waitFor(
    async () =>
      (await countFiles(join(queue, 'deferred'))) === MESSAGES &&
      (await countFiles(join(queue, 'incoming'))) === 0 &&
      (await countFiles(join(queue, 'active'))) === 0,
    'every message deferred',
  );
  const sink = await startSink(sinkPort);
  postconf('defer_transports=');
  postfix('reload');
  const started = process.hrtime.bigint();
  execFileSync('postqueue', ['-c', config, '-f']);
  await waitFor(
    async () =>
      (await countFiles(join(queue, 'deferred'))) === 0 &&
      (await countFiles(join(queue, 'active'))) === 0 &&
      (await countFiles(join(queue, 'incoming'))) === 0,
    'an empty queue',
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  sink.kill('SIGTERM');
  report('postfix', seconds);
} finally {
  postfix('stop');
  await rm(root, { recursive: true, force: true });
}
