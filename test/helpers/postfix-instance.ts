/**
 * A private Postfix instance (Debian postfix) as a real receiving MTA: its own config, queue
 * and data directories under a temporary root, smtpd on a loopback port, and every recipient
 * of the given domain stored by virtual(8) in one Maildir the test reads. Optionally its
 * smtpd asks a policy service (greylisting, RFC-style: the test decides what to defer).
 * Needs root: `postfix -c DIR start` runs a master of its own, as bench/postfix-relay.mjs does.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './external.js';
import { eventually } from './relay.js';

const POSTFIX = '/usr/sbin/postfix';
/** virtual(8) writes the Maildir as this user (nobody: any uid above virtual_minimum_uid). */
const MAILBOX_UID = 65534;

/** Why a Postfix instance cannot run here, or undefined when it can. */
export function postfixUnavailable(): string | undefined {
  if (!existsSync(POSTFIX)) return `${POSTFIX} is not installed (Debian package postfix)`;
  if (process.getuid?.() !== 0) return 'a private Postfix master needs root';
  return undefined;
}

export interface PostfixInstance {
  /** smtpd's loopback port. */
  readonly port: number;
  /** The stored messages, oldest first, as Postfix wrote them (LF line ends). */
  messages(): Promise<Buffer[]>;
  /** Resolves with the first stored message containing `marker` (bounded wait). */
  waitForMessage(marker: string, timeoutMs?: number): Promise<Buffer>;
  /** Postfix's own log (maillog_file), for failure messages. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

export interface PostfixOptions {
  /** The domain whose recipients Postfix accepts and stores. */
  domain: string;
  /** smtpd asks this policy service at RCPT (check_policy_service inet:127.0.0.1:PORT). */
  policyPort?: number;
}

export async function startPostfix(options: PostfixOptions): Promise<PostfixInstance> {
  const root = await mkdtemp(join(tmpdir(), 'mailwharf-postfix-'));
  // Postfix's daemons run as the postfix user and virtual(8) as nobody: both must reach in.
  await chmod(root, 0o755);
  const config = join(root, 'etc');
  const queue = join(root, 'queue');
  const data = join(root, 'data');
  const mail = join(root, 'mail');
  for (const dir of [config, queue, data, mail]) await mkdir(dir);
  execFileSync('chown', ['postfix:postfix', data]);
  await chown(mail, MAILBOX_UID, MAILBOX_UID);
  const port = await freePort();
  const maillog = join(root, 'maillog');
  await writeFile(join(config, 'main.cf'), '');
  const settings = [
    'compatibility_level=3.6',
    `queue_directory=${queue}`,
    `data_directory=${data}`,
    'myhostname=postfix.test',
    'mydestination=',
    'inet_interfaces=127.0.0.1',
    'inet_protocols=ipv4',
    'mynetworks=127.0.0.0/8',
    `virtual_mailbox_domains=${options.domain}`,
    `virtual_mailbox_base=${mail}`,
    // One Maildir (trailing slash) for every recipient of the domain.
    'virtual_mailbox_maps=static:inbox/',
    `virtual_uid_maps=static:${String(MAILBOX_UID)}`,
    `virtual_gid_maps=static:${String(MAILBOX_UID)}`,
    // Room for the 10 MiB case (the default limit is 10,240,000 bytes).
    'message_size_limit=52428800',
    'virtual_mailbox_limit=0',
    'alias_maps=',
    'alias_database=',
    'local_recipient_maps=',
    'smtpd_relay_restrictions=permit_mynetworks,reject_unauth_destination',
    options.policyPort === undefined
      ? 'smtpd_recipient_restrictions='
      : `smtpd_recipient_restrictions=check_policy_service inet:127.0.0.1:${String(options.policyPort)}`,
    'smtp_tls_security_level=none',
    `maillog_file_prefixes=${root}`,
    `maillog_file=${maillog}`,
    'syslog_name=postfix-mailwharf-test',
    'biff=no',
  ];
  execFileSync('postconf', ['-c', config, '-e', ...settings]);
  const master = (await readFile('/etc/postfix/master.cf', 'utf8'))
    .split('\n')
    .filter((line) => !/^smtp\s+inet\b/.test(line))
    .map((line) => line.replace(/^(\S+\s+\S+\s+\S+\s+\S+\s+)y(\s)/, '$1n$2')) // no chroot
    .join('\n');
  await writeFile(join(config, 'master.cf'), `127.0.0.1:${String(port)} inet n - n - - smtpd\n${master}\n`);
  const postfix = (...args: string[]) =>
    spawnSync(POSTFIX, ['-c', config, ...args], { encoding: 'utf8', timeout: 60_000 });
  const log = () => readFile(maillog, 'utf8').catch(() => '');
  const masterPid = async (): Promise<number | undefined> => {
    const text = await readFile(join(queue, 'pid', 'master.pid'), 'utf8').catch(() => '');
    const pid = Number.parseInt(text.trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  };
  const started = postfix('start');
  if (started.status !== 0) {
    const why = `${started.stderr}\n${await log()}`;
    await rm(root, { recursive: true, force: true });
    throw new Error(`postfix start failed: ${why}`);
  }
  await waitForPort(port, 30_000);

  const inbox = join(mail, 'inbox', 'new');
  const messages = async (): Promise<Buffer[]> => {
    // Maildir names start with the delivery time in seconds, then a sequence: sort by both.
    const names = (await readdir(inbox).catch(() => [])).sort((a, b) =>
      a.localeCompare(b, 'en', { numeric: true }),
    );
    return Promise.all(names.map((name) => readFile(join(inbox, name))));
  };
  return {
    port,
    messages,
    waitForMessage: (marker, timeoutMs = 60_000) =>
      eventually(
        async () => (await messages()).find((message) => message.includes(marker)),
        `a message with ${marker} in Postfix's Maildir`,
        timeoutMs,
      ),
    log,
    async stop() {
      const pid = await masterPid();
      postfix('stop');
      // `postfix stop` signals the master; wait for it (ours, by PID) to be gone before removing its files.
      if (pid !== undefined) {
        await eventually(
          () => {
            try {
              process.kill(pid, 0);
              return undefined;
            } catch {
              return true;
            }
          },
          `Postfix master ${String(pid)} to exit`,
          30_000,
        );
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}

export interface PolicyService {
  readonly port: number;
  /** One entry per RCPT request: "sender recipient -> action". */
  readonly decisions: string[];
  close(): Promise<void>;
}

/**
 * A Postfix policy service (SMTPD_POLICY_README: name=value lines, an empty line ends a
 * request, `action=...` answers) that greylists: the first RCPT of each sender/recipient pair
 * is deferred with 450 4.7.1, later ones pass — what a greylisting receiver does to a relay.
 */
export async function startGreylist(): Promise<PolicyService> {
  const seen = new Set<string>();
  const decisions: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let pending = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      pending += chunk;
      for (let end = pending.indexOf('\n\n'); end >= 0; end = pending.indexOf('\n\n')) {
        const request = new Map(
          pending
            .slice(0, end)
            .split('\n')
            .map((line) => {
              const at = line.indexOf('=');
              return [line.slice(0, at), line.slice(at + 1)] as const;
            }),
        );
        pending = pending.slice(end + 2);
        const pair = `${request.get('sender') ?? ''} ${request.get('recipient') ?? ''}`;
        const action = seen.has(pair) ? 'DUNNO' : 'DEFER_IF_PERMIT Greylisted, try again later';
        seen.add(pair);
        decisions.push(`${pair} -> ${action}`);
        socket.write(`action=${action}\n\n`);
      }
    });
    socket.on('error', () => undefined);
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
  return {
    port,
    decisions,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // smtpd keeps its policy connection open for reuse.
        for (const socket of sockets) socket.destroy();
      }),
  };
}
