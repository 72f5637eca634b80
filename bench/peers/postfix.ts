/**
 * Postfix itself (Debian's package): a private instance with its own config, queue and data
 * directories in a throw-away directory, its master in the foreground (`master -d -c DIR`),
 * smtpd on 127.0.0.1:PORT, every recipient delivered to `discard:`. Its intake is durable as
 * ours is: cleanup fsyncs the queue file before smtpd answers 250. "stored" counts the
 * discard agent's `status=sent` lines in the instance's own maillog_file (postlogd).
 * Postfix is several processes (master, one smtpd per session, cleanup, qmgr…): its memory is
 * the sum of Pss over the master and every process below it.
 */
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, launch, waitForPort } from '../proc.js';
import { tempDir } from './files.js';
import type { Peer } from './peer.js';

const run = promisify(execFile);
const POSTFIX = '/usr/sbin/postfix';
const MASTER = '/usr/lib/postfix/sbin/master';

function mainCf(root: string): string {
  return [
    'compatibility_level = 3.6',
    `queue_directory = ${root}/queue`,
    `data_directory = ${root}/data`,
    `maillog_file = ${root}/maillog`,
    `maillog_file_prefixes = ${root}`,
    'mail_owner = postfix',
    'setgid_group = postdrop',
    'myhostname = postfix.bench.test',
    'mydomain = bench.test',
    'mydestination = bench.test',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'mynetworks = 127.0.0.0/8',
    'local_transport = discard:',
    'default_transport = discard:',
    'relay_transport = discard:',
    'alias_maps =',
    'alias_database =',
    'local_recipient_maps =',
    // The bench's 50 sessions must each get an smtpd (the default limit is 100).
    'default_process_limit = 200',
    '',
  ].join('\n');
}

// master.cf: smtpd on the bench's port plus the services a discard delivery passes through.
function masterCf(port: number): string {
  return [
    `127.0.0.1:${port} inet n - n - - smtpd`,
    'pickup unix n - n 60 1 pickup',
    'cleanup unix n - n - 0 cleanup',
    'qmgr unix n - n 300 1 qmgr',
    'rewrite unix - - n - - trivial-rewrite',
    'bounce unix - - n - 0 bounce',
    'defer unix - - n - 0 bounce',
    'trace unix - - n - 0 bounce',
    'verify unix - - n - 1 verify',
    'flush unix n - n 1000? 0 flush',
    'proxymap unix - - n - - proxymap',
    'anvil unix - - n - 1 anvil',
    'scache unix - - n - 1 scache',
    'postlog unix-dgram n - n - 1 postlogd',
    'discard unix - - n - - discard',
    'showq unix n - n - - showq',
    'error unix - - n - - error',
    'retry unix - - n - - error',
    '',
  ].join('\n');
}

async function postfixUid(): Promise<number> {
  const { stdout } = await run('id', ['-u', 'postfix']);
  return Number(stdout.trim());
}

export const postfixPeer: Peer = {
  name: 'postfix',
  description:
    'Postfix (Debian package), a private instance: `master -d -c DIR`, smtpd on 127.0.0.1:PORT, ' +
    'queue in DIR (cleanup fsyncs before the 250), every recipient to `discard:`, maillog_file in DIR; ' +
    'otherwise defaults (default_process_limit 200); memory as Pss summed over master and its children',
  rssOfTree: true,
  async start() {
    const root = await tempDir('postfix');
    // The postfix user walks into the queue and data directories.
    await chmod(root, 0o755);
    const conf = join(root, 'conf');
    await mkdir(conf);
    await mkdir(join(root, 'queue'));
    await mkdir(join(root, 'data'));
    await chown(join(root, 'data'), await postfixUid(), -1);
    const port = await freePort();
    await writeFile(join(conf, 'main.cf'), mainCf(root));
    await writeFile(join(conf, 'master.cf'), masterCf(port));
    await run(POSTFIX, ['-c', conf, 'post-install', 'create-missing'], { timeout: 30_000 });
    const child = launch(MASTER, ['-d', '-c', conf]);
    await waitForPort(port, child, 'postfix');
    return {
      port,
      pid: child.pid,
      async stored() {
        const log = await readFile(join(root, 'maillog'), 'utf8').catch(() => '');
        return log
          .split('\n')
          .filter((line) => line.includes('postfix/discard[') && line.includes('status=sent')).length;
      },
      async stop() {
        await child.stop();
        await rm(root, { recursive: true, force: true });
      },
    };
  },
};
