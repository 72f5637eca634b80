import { chmod, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startExternal, waitForPort } from './external.js';
import { eventually, startRelay } from './relay.js';
import { SmtpProbe } from './smtp-probe.js';

export interface SinkMessage {
  /** X-Mail-Args: the MAIL FROM arguments as received, e.g. "<a@b> BODY=8BITMIME". */
  readonly mailArgs: string;
  /** X-Rcpt-Args, one per RCPT. */
  readonly rcptArgs: readonly string[];
  /** The message as received (after smtp-sink's own headers), as latin1 text. */
  readonly text: string;
}

export interface Sink {
  readonly port: number;
  /** Every message dumped so far. */
  messages(): Promise<SinkMessage[]>;
  /** Waits for `count` messages matching `accept`. */
  waitFor(accept: (m: SinkMessage) => boolean, what: string, count?: number): Promise<SinkMessage[]>;
  stop(): Promise<void>;
}

/**
 * Postfix's smtp-sink (Debian postfix), dumping each message to a file so a test can read
 * the MAIL and RCPT arguments and the bytes as the hop saw them. `flags` turn off
 * extensions: -8 (8BITMIME), -N (DSN), -e (ESMTP); smtp-sink never offers SMTPUTF8.
 */
export async function startSink(flags: readonly string[] = [], port?: number): Promise<Sink> {
  const dir = await mkdtemp(join(tmpdir(), 'mailwharf-sink-'));
  // smtp-sink drops to nobody before it writes dumps.
  await chmod(dir, 0o777);
  port ??= await freePort();
  const sink = startExternal('/usr/sbin/smtp-sink', [
    ...flags,
    '-u',
    'nobody',
    '-h',
    'sink.test',
    '-d',
    `${dir}/m.`,
    `127.0.0.1:${String(port)}`,
    '64',
  ]);
  await waitForPort(port);
  const messages = async (): Promise<SinkMessage[]> => {
    // smtp-sink creates a dump at MAIL and writes it as the transaction goes (buffered, so a
    // dump may be empty or cut for a while); it is whole once smtp-sink has closed it.
    // Listed before the open files are read: a dump created in between is then simply not
    // seen yet, rather than read half-written as if smtp-sink had closed it.
    const listed = (await readdir(dir)).sort().map((name) => join(dir, name));
    const open = await openFiles(sink.child.pid);
    const paths = listed.filter((path) => !open.has(path));
    const texts = await Promise.all(paths.map((path) => readFile(path, 'latin1')));
    return texts.map(parseDump);
  };
  return {
    port,
    messages,
    waitFor: (accept, what, count = 1) =>
      eventually(async () => {
        const found = (await messages()).filter(accept);
        return found.length >= count ? found : undefined;
      }, what),
    async stop() {
      await sink.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The files a process has open, from /proc (Linux; the tests' platform). */
async function openFiles(pid: number | undefined): Promise<Set<string>> {
  if (pid === undefined) return new Set();
  const fdDir = `/proc/${String(pid)}/fd`;
  let fds: string[];
  try {
    fds = await readdir(fdDir);
  } catch {
    return new Set(); // exited: nothing is open
  }
  const targets = await Promise.all(fds.map((fd) => readlink(join(fdDir, fd)).catch(() => '')));
  return new Set(targets);
}

function parseDump(text: string): SinkMessage {
  const lines = text.split('\n');
  const rcptArgs: string[] = [];
  let mailArgs = '';
  let i = 0;
  for (; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.startsWith('X-Mail-Args: ')) mailArgs = line.slice('X-Mail-Args: '.length);
    else if (line.startsWith('X-Rcpt-Args: ')) rcptArgs.push(line.slice('X-Rcpt-Args: '.length));
    else if (line.startsWith('Received: ')) break;
  }
  // smtp-sink's Received header is three lines; the message follows.
  return { mailArgs, rcptArgs, text: lines.slice(i + 3).join('\n') };
}

/**
 * One raw SMTP transaction to the relay, with exact MAIL and RCPT arguments
 * (e.g. "SMTPUTF8", "BODY=8BITMIME", "NOTIFY=SUCCESS ORCPT=rfc822;x@y").
 */
export async function sendRaw(
  port: number,
  mail: {
    from: string;
    fromArgs?: string;
    to: readonly { address: string; args?: string }[];
    message: Buffer;
  },
): Promise<string> {
  const probe = await SmtpProbe.connect(port);
  try {
    await probe.read();
    await probe.command('EHLO client.test');
    const commands = [
      `MAIL FROM:<${mail.from}>${mail.fromArgs ? ` ${mail.fromArgs}` : ''}`,
      ...mail.to.map((r) => `RCPT TO:<${r.address}>${r.args ? ` ${r.args}` : ''}`),
      'DATA',
    ];
    for (const command of commands) {
      probe.write(Buffer.from(`${command}\r\n`, 'utf8'));
      const reply = await probe.read();
      if (reply.code >= 400) throw new Error(`${command}: ${reply.last}`);
    }
    probe.write(Buffer.concat([mail.message, Buffer.from('\r\n.\r\n')]));
    const done = await probe.read();
    if (done.code !== 250) throw new Error(`end of DATA: ${done.last}`);
    await probe.command('QUIT');
    return done.last;
  } finally {
    probe.close();
  }
}

/**
 * An smtp-sink (with `flags`) and a relay whose smarthost it is, retries an hour apart so a
 * test sees exactly one attempt; both are stopped by the cleanups the test runs.
 */
export async function startRelayToSink(flags: readonly string[], cleanups: (() => Promise<void>)[]) {
  const sink = await startSink(flags);
  cleanups.push(() => sink.stop());
  const started = await startRelay(
    { type: 'smarthost', host: '127.0.0.1', port: sink.port, tls: 'none' },
    { retry: { firstRetrySeconds: 3600, maxRetrySeconds: 3600 } },
  );
  cleanups.push(started.close);
  return { sink, relay: started.relay };
}
