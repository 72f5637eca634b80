import { storedBytes } from '../helpers/stored.js';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/spool/envelope.js';
import { ALICE, startTestServer, type TestServer } from '../helpers/config.js';

/**
 * curl, openssl s_client and Python's smtplib, the tools people actually point at a mail
 * server, against the real listeners. Every TLS client verifies the certificate against
 * the server's self-signed CA (never "insecure"), and each tool also gets a negative case
 * showing that the same invocation without the CA, or with the wrong name, is refused.
 */

/** The reply line, also as curl -v shows it ("< 250 ..."). */
const QUEUED = /^(?:< )?250 2\.0\.0 Ok: queued as ([0-9A-Z]{17})\r?$/m;
/** Every child process is killed after this; no test can hang on a tool. */
const TOOL_TIMEOUT_MS = 15_000;

interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a tool to completion, stdin given and closed at once, killed at the deadline. */
function run(command: string, args: readonly string[], input: string | Buffer = ''): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, TOOL_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => undefined); // a tool that exits early makes writing EPIPE
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        timedOut,
        stdout: Buffer.concat(stdout).toString('latin1'),
        stderr: Buffer.concat(stderr).toString('latin1'),
      });
    });
    child.stdin.end(input);
  });
}

function describeRun(result: RunResult): string {
  return `exit ${result.code} signal ${result.signal} timedOut ${result.timedOut}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

function queueIdIn(text: string): string {
  const id = QUEUED.exec(text)?.[1];
  if (!id) throw new Error(`no "250 2.0.0 Ok: queued as" line in:\n${text}`);
  return id;
}

/** The stored message without its first header field, our Received: (folded with tabs). */
function withoutReceived(stored: Buffer): Buffer {
  if (!stored.subarray(0, 10).equals(Buffer.from('Received: ')))
    throw new Error('stored message does not start with Received:');
  let end = stored.indexOf('\r\n');
  while (end >= 0 && (stored[end + 2] === 0x09 || stored[end + 2] === 0x20))
    end = stored.indexOf('\r\n', end + 2);
  if (end < 0) throw new Error('unterminated Received header');
  return stored.subarray(end + 2);
}

/** A plain-text message with a dot-leading line (for the tool's dot-stuffing), CRLF throughout. */
function textMessage(tool: string, token: string): Buffer {
  return Buffer.from(
    [
      `From: <${ALICE.username}>`,
      'To: <bob@local.test>',
      `Subject: ${tool} ${token}`,
      `Message-ID: <${token}@${tool}.test>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      `Sent by ${tool}, token ${token}.`,
      '.a line that starts with a dot',
      '..and one with two',
      '.',
      'last line',
      '',
    ].join('\r\n'),
  );
}

describe('curl, openssl s_client and python smtplib as clients', () => {
  let mw: TestServer;
  let dir: string;
  let caFile: string;
  beforeAll(async () => {
    mw = await startTestServer();
    dir = await mkdtemp(join(tmpdir(), 'mailwharf-cli-clients-'));
    caFile = join(dir, 'mw-ca.pem');
    await writeFile(caFile, mw.ca);
  });
  afterAll(async () => {
    await mw.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function stored(id: string): Promise<{ envelope: Envelope; bytes: Buffer }> {
    const envelope = await mw.server.spool.envelope(id);
    if (!envelope) throw new Error(`queued as ${id} but no envelope in the spool`);
    const bytes = await storedBytes(mw.server.spool, id);
    expect(envelope.size).toBe(bytes.length);
    return { envelope, bytes };
  }

  async function spoolCount(): Promise<number> {
    return (await mw.server.spool.list()).length;
  }

  describe('curl', () => {
    /** Fixed options: no ~/.curlrc, no proxy, bounded, and -v for the dialogue on stderr. */
    const base = ['-q', '--noproxy', '*', '-sS', '-v', '--connect-timeout', '5', '--max-time', '10'];

    async function curlSend(
      url: string,
      extra: readonly string[],
      token: string,
    ): Promise<{ result: RunResult; file: Buffer }> {
      const file = textMessage('curl', token);
      const path = join(dir, `curl-${token}.eml`);
      await writeFile(path, file);
      const args = [
        ...base,
        '--url',
        url,
        ...extra,
        '--cacert',
        caFile,
        '--mail-from',
        ALICE.username,
        '--mail-rcpt',
        'bob@local.test',
        '--mail-rcpt',
        'carol@elsewhere.test',
        '--user',
        `${ALICE.username}:${ALICE.password}`,
        '-T',
        path,
      ];
      return { result: await run('curl', args), file };
    }

    it('submission: smtp:// with --ssl-reqd (STARTTLS), name "localhost" verified, AUTH, byte-exact', async () => {
      const port = mw.port('submission');
      const token = randomBytes(8).toString('hex');
      const { result, file } = await curlSend(
        `smtp://localhost:${port}`,
        ['--resolve', `localhost:${port}:127.0.0.1`, '--ssl-reqd'],
        token,
      );
      expect(result.code, describeRun(result)).toBe(0);
      expect(result.stderr).toMatch(/^> STARTTLS\r?$/m);
      expect(result.stderr).toMatch(/^> AUTH (PLAIN|LOGIN)/m);
      const tls = /SSL connection using (TLSv1\.[23]) \/ (\S+)/.exec(result.stderr);
      expect(tls, result.stderr).not.toBeNull();
      const id = queueIdIn(result.stderr);
      const { envelope, bytes } = await stored(id);
      expect(envelope.mailFrom).toBe(ALICE.username);
      expect(envelope.rcptTo.map((r) => r.address)).toEqual(['bob@local.test', 'carol@elsewhere.test']);
      expect(envelope.listener).toEqual({ name: 'submission', role: 'submission', port });
      expect(envelope.authUser).toBe(ALICE.username);
      expect(envelope.tls).toEqual({ version: tls?.[1], cipher: tls?.[2] });
      // curl dot-stuffed the dot lines; the server must have removed exactly that.
      expect(withoutReceived(bytes).equals(file)).toBe(true);
    });

    it('submissions: smtps:// (implicit TLS), SAN 127.0.0.1 verified, AUTH, byte-exact', async () => {
      const port = mw.port('submissions');
      const token = randomBytes(8).toString('hex');
      const { result, file } = await curlSend(`smtps://127.0.0.1:${port}`, [], token);
      expect(result.code, describeRun(result)).toBe(0);
      expect(result.stderr).not.toMatch(/^> STARTTLS/m);
      const tls = /SSL connection using (TLSv1\.[23]) \/ (\S+)/.exec(result.stderr);
      expect(tls, result.stderr).not.toBeNull();
      const id = queueIdIn(result.stderr);
      const { envelope, bytes } = await stored(id);
      expect(envelope.mailFrom).toBe(ALICE.username);
      expect(envelope.rcptTo.map((r) => r.address)).toEqual(['bob@local.test', 'carol@elsewhere.test']);
      expect(envelope.listener).toEqual({ name: 'submissions', role: 'submissions', port });
      expect(envelope.authUser).toBe(ALICE.username);
      expect(envelope.tls).toEqual({ version: tls?.[1], cipher: tls?.[2] });
      expect(withoutReceived(bytes).equals(file)).toBe(true);
    });

    it('refuses the self-signed server without the CA (exit 60) and under the wrong name (exit 60); nothing queued', async () => {
      const before = await spoolCount();
      const port = mw.port('submission');
      const selfSigned = await run('curl', [
        ...base,
        '--url',
        `smtps://127.0.0.1:${mw.port('submissions')}`,
        '--mail-from',
        ALICE.username,
        '--mail-rcpt',
        'bob@local.test',
        '--user',
        `${ALICE.username}:${ALICE.password}`,
        '-T',
        caFile,
      ]);
      expect(selfSigned.code, describeRun(selfSigned)).toBe(60);
      expect(selfSigned.stderr).toMatch(/self[- ]signed certificate/i);

      const wrongName = await run('curl', [
        ...base,
        '--url',
        `smtp://evil.test:${port}`,
        '--resolve',
        `evil.test:${port}:127.0.0.1`,
        '--ssl-reqd',
        '--cacert',
        caFile,
        '--mail-from',
        ALICE.username,
        '--mail-rcpt',
        'bob@local.test',
        '--user',
        `${ALICE.username}:${ALICE.password}`,
        '-T',
        caFile,
      ]);
      expect(wrongName.code, describeRun(wrongName)).toBe(60);
      expect(wrongName.stderr).toMatch(/does not match|no alternative certificate subject name matches/i);
      expect(await spoolCount()).toBe(before);
    });
  });

  describe('openssl s_client -starttls smtp', () => {
    /** s_client driven line by line over stdin: each command is written once its predecessor's reply is in. */
    class SClient {
      private out = '';
      private mark = 0;
      private exited: Promise<number | null>;
      private readonly timer: NodeJS.Timeout;

      constructor(private readonly child: ChildProcessWithoutNullStreams) {
        child.stdout.on('data', (chunk: Buffer) => (this.out += chunk.toString('latin1')));
        child.stderr.on('data', (chunk: Buffer) => (this.out += chunk.toString('latin1')));
        child.stdin.on('error', () => undefined);
        this.exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
        this.timer = setTimeout(() => child.kill('SIGKILL'), TOOL_TIMEOUT_MS);
        void this.exited.then(() => clearTimeout(this.timer));
      }

      static start(port: number, extra: readonly string[]): SClient {
        const args = [
          's_client',
          '-starttls',
          'smtp',
          '-name',
          'openssl-starttls.test',
          '-connect',
          `127.0.0.1:${port}`,
        ];
        // -crlf: LF from stdin goes out as CRLF; -ign_eof and -nocommands: lines starting
        // with Q or R ("QUIT", "RCPT") are sent, not taken as s_client's own commands.
        const child = spawn('openssl', [...args, ...extra, '-crlf', '-ign_eof', '-nocommands'], {
          stdio: ['pipe', 'pipe', 'pipe'],
          env: { ...process.env, LC_ALL: 'C' },
        });
        return new SClient(child);
      }

      get output(): string {
        return this.out;
      }

      async waitFor(pattern: RegExp, timeoutMs = 5_000): Promise<RegExpExecArray> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const match = pattern.exec(this.out.slice(this.mark));
          if (match) {
            this.mark += match.index + match[0].length;
            return match;
          }
          if (Date.now() > deadline)
            throw new Error(`no ${String(pattern)} within ${timeoutMs} ms; output:\n${this.out}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }

      /** Writes one line and returns the server's final reply line to it. */
      async command(line: string): Promise<{ code: number; line: string }> {
        this.child.stdin.write(`${line}\n`);
        return this.reply();
      }

      async reply(): Promise<{ code: number; line: string }> {
        const match = await this.waitFor(/^(\d{3}) [^\r\n]*/m);
        return { code: Number(match[1]), line: match[0] };
      }

      write(text: string): void {
        this.child.stdin.write(text);
      }

      async close(): Promise<number | null> {
        this.child.stdin.end();
        return this.exited;
      }
    }

    it('submission: "Verify return code: 0 (ok)", AUTH PLAIN, message queued and stored byte-exact', async () => {
      const port = mw.port('submission');
      const token = randomBytes(8).toString('hex');
      const message = textMessage('openssl', token);
      const client = SClient.start(port, [
        '-CAfile',
        caFile,
        '-verify_return_error',
        '-verify_hostname',
        'localhost',
      ]);
      try {
        await client.waitFor(/Verify return code: 0 \(ok\)/);
        const negotiated = /New, (TLSv1\.[23]), Cipher is (\S+)/.exec(client.output);
        expect(negotiated, client.output).not.toBeNull();
        // s_client prints the last line of the plaintext EHLO reply again after the
        // handshake (an s_client quirk, seen with any server), so match the whole reply.
        client.write('EHLO openssl-client.test\n');
        const ehlo = await client.waitFor(/^250-mx\.test [^\r\n]*\r?\n(?:250-[^\r\n]*\r?\n)*250 [^\r\n]*/m);
        expect(ehlo[0]).toMatch(/^250-AUTH PLAIN LOGIN\r?$/m);
        const plain = Buffer.from(`\0${ALICE.username}\0${ALICE.password}`).toString('base64');
        expect((await client.command(`AUTH PLAIN ${plain}`)).line).toBe(
          '235 2.7.0 Authentication successful',
        );
        expect((await client.command(`MAIL FROM:<${ALICE.username}>`)).code).toBe(250);
        expect((await client.command('RCPT TO:<bob@local.test>')).code).toBe(250);
        expect((await client.command('DATA')).code).toBe(354);
        // Dot-stuffed by hand, LF line ends (-crlf makes them CRLF on the wire).
        const wire = message.toString('latin1').replace(/^\./gm, '..').replace(/\r\n/g, '\n');
        client.write(`${wire}.\n`);
        const queued = await client.reply();
        expect(queued.line).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-Z]{17}$/);
        expect((await client.command('QUIT')).code).toBe(221);
        expect(await client.close()).toBe(0);

        const { envelope, bytes } = await stored(queueIdIn(queued.line));
        expect(envelope.mailFrom).toBe(ALICE.username);
        expect(envelope.rcptTo.map((r) => r.address)).toEqual(['bob@local.test']);
        expect(envelope.listener).toEqual({ name: 'submission', role: 'submission', port });
        expect(envelope.authUser).toBe(ALICE.username);
        expect(envelope.client.helo).toBe('openssl-client.test');
        expect(envelope.tls).toEqual({ version: negotiated?.[1], cipher: negotiated?.[2] });
        expect(withoutReceived(bytes).equals(message)).toBe(true);
      } finally {
        await client.close();
      }
    });

    it.each([
      {
        name: 'without the CA',
        extra: ['-verify_hostname', 'localhost'],
        error: /self[- ]signed certificate/i,
      },
      {
        name: 'with the CA but the wrong name',
        extra: ['-CAfile', '<ca>', '-verify_hostname', 'evil.test'],
        error: /hostname mismatch/i,
      },
    ])('-verify_return_error refuses the server $name', async ({ extra, error }) => {
      const args = ['-verify_return_error', ...extra.map((arg) => (arg === '<ca>' ? caFile : arg))];
      const result = await run('openssl', [
        's_client',
        '-starttls',
        'smtp',
        '-connect',
        `127.0.0.1:${mw.port('submission')}`,
        ...args,
      ]);
      expect(result.timedOut, describeRun(result)).toBe(false);
      expect(result.code, describeRun(result)).not.toBe(0);
      expect(`${result.stdout}${result.stderr}`).toMatch(error);
      expect(result.stdout).not.toMatch(/Verify return code: 0 \(ok\)/);
    });
  });

  describe('python3 smtplib', () => {
    /**
     * Sends one message with send_message() and prints JSON: the reply to DATA (captured by
     * wrapping data()), the bytes smtplib handed to data(), and the TLS the socket negotiated.
     */
    const SCRIPT = String.raw`
import base64, json, smtplib, ssl, sys
from email.message import EmailMessage

cfg = json.loads(sys.argv[1])

class Capture:
    data_reply = None
    data_sent = None
    def data(self, msg):
        self.data_sent = msg
        self.data_reply = super().data(msg)
        return self.data_reply

class SMTP(Capture, smtplib.SMTP):
    pass

class SMTP_SSL(Capture, smtplib.SMTP_SSL):
    pass

def context():
    ctx = ssl.create_default_context(cafile=cfg["ca"]) if cfg.get("ca") else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    return ctx

msg = EmailMessage()
msg["From"] = cfg["from"]
msg["To"] = ", ".join(cfg["to"])
msg["Subject"] = "python " + cfg["token"]
msg["Message-ID"] = "<" + cfg["token"] + "@python.test>"
msg.set_content("Sent by smtplib, token " + cfg["token"] + ".\n.leading dot\n")
msg.add_attachment(base64.b64decode(cfg["attachment"]), maintype="application", subtype="octet-stream", filename="payload.bin")

result = {}
try:
    if cfg["mode"] == "ssl":
        s = SMTP_SSL(cfg["host"], cfg["port"], local_hostname="python.test", timeout=10, context=context())
    else:
        s = SMTP(cfg["host"], cfg["port"], local_hostname="python.test", timeout=10)
    with s:
        s.ehlo()
        result["auth_before_tls"] = s.has_extn("auth")
        if cfg["mode"] == "starttls":
            s.starttls(context=context())
            s.ehlo()
        if cfg.get("login"):
            s.login(cfg["login"][0], cfg["login"][1])
        refused = s.send_message(msg, to_addrs=cfg["to"])
        result["refused"] = refused
        code, text = s.data_reply
        result["reply"] = str(code) + " " + text.decode("latin1")
        result["sent"] = base64.b64encode(s.data_sent).decode("ascii")
        if cfg["mode"] in ("ssl", "starttls"):
            result["tls"] = {"version": s.sock.version(), "cipher": s.sock.cipher()[0]}
except ssl.SSLCertVerificationError as error:
    result["cert_error"] = str(error)
except smtplib.SMTPException as error:
    result["smtp_error"] = type(error).__name__ + ": " + str(error)
print(json.dumps(result))
`;

    interface PythonResult {
      readonly auth_before_tls?: boolean;
      readonly refused?: Record<string, unknown>;
      readonly reply?: string;
      readonly sent?: string;
      readonly tls?: { readonly version: string; readonly cipher: string };
      readonly cert_error?: string;
      readonly smtp_error?: string;
    }

    interface PythonCase {
      readonly mode: 'plain' | 'starttls' | 'ssl';
      readonly port: number;
      readonly from: string;
      readonly to: readonly string[];
      readonly login?: readonly [string, string];
      readonly ca?: string;
    }

    async function python(
      options: PythonCase,
    ): Promise<{ out: PythonResult; token: string; attachment: Buffer }> {
      const script = join(dir, 'send.py');
      await writeFile(script, SCRIPT);
      const token = randomBytes(8).toString('hex');
      const attachment = randomBytes(5000);
      const cfg = { ...options, host: '127.0.0.1', token, attachment: attachment.toString('base64') };
      const result = await run('python3', [script, JSON.stringify(cfg)]);
      expect(result.code, describeRun(result)).toBe(0);
      const line = result.stdout.trim().split('\n').pop() ?? '';
      return { out: JSON.parse(line) as PythonResult, token, attachment };
    }

    async function expectDelivered(
      sent: { out: PythonResult; token: string; attachment: Buffer },
      expected: {
        listener: string;
        role: string;
        from: string;
        to: readonly string[];
        authUser: string | undefined;
      },
    ): Promise<Envelope> {
      expect(sent.out.cert_error).toBeUndefined();
      expect(sent.out.smtp_error).toBeUndefined();
      expect(sent.out.refused).toEqual({});
      const reply = sent.out.reply ?? '';
      expect(reply).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-Z]{17}$/);
      const { envelope, bytes } = await stored(queueIdIn(reply));
      expect(envelope.mailFrom).toBe(expected.from);
      expect(envelope.rcptTo.map((r) => r.address)).toEqual(expected.to);
      expect(envelope.listener).toEqual({
        name: expected.listener,
        role: expected.role,
        port: mw.port(expected.listener),
      });
      expect(envelope.authUser).toBe(expected.authUser);
      expect(envelope.client.helo).toBe('python.test');
      expect(envelope.tls).toEqual(sent.out.tls);
      // What smtplib passed to data() (already CRLF), plus the CRLF data() adds if missing.
      let handed = Buffer.from(sent.out.sent ?? '', 'base64');
      if (!handed.subarray(-2).equals(Buffer.from('\r\n')))
        handed = Buffer.concat([handed, Buffer.from('\r\n')]);
      expect(withoutReceived(bytes).equals(handed)).toBe(true);
      const parsed = await simpleParser(bytes);
      expect(parsed.subject).toBe(`python ${sent.token}`);
      expect(parsed.text).toContain('.leading dot');
      expect(parsed.attachments).toHaveLength(1);
      expect(parsed.attachments[0]?.filename).toBe('payload.bin');
      expect(parsed.attachments[0]?.content.equals(sent.attachment)).toBe(true);
      return envelope;
    }

    it('submission: starttls() with a context that loads the CA, login(), send_message()', async () => {
      const to = ['bob@local.test', 'carol@elsewhere.test'];
      const sent = await python({
        mode: 'starttls',
        port: mw.port('submission'),
        from: ALICE.username,
        to,
        login: [ALICE.username, ALICE.password],
        ca: caFile,
      });
      // AUTH is not offered before TLS on submission.
      expect(sent.out.auth_before_tls).toBe(false);
      expect(sent.out.tls?.version).toMatch(/^TLSv1\.[23]$/);
      await expectDelivered(sent, {
        listener: 'submission',
        role: 'submission',
        from: ALICE.username,
        to,
        authUser: ALICE.username,
      });
    });

    it('submissions: SMTP_SSL with a context that loads the CA, login(), send_message()', async () => {
      const to = ['bob@local.test'];
      const sent = await python({
        mode: 'ssl',
        port: mw.port('submissions'),
        from: ALICE.username,
        to,
        login: [ALICE.username, ALICE.password],
        ca: caFile,
      });
      expect(sent.out.auth_before_tls).toBe(true);
      expect(sent.out.tls?.version).toMatch(/^TLSv1\.[23]$/);
      await expectDelivered(sent, {
        listener: 'submissions',
        role: 'submissions',
        from: ALICE.username,
        to,
        authUser: ALICE.username,
      });
    });

    it('smtp (port 25 role): plain SMTP, no TLS, no auth, send_message()', async () => {
      const to = ['bob@local.test', 'carol@elsewhere.test'];
      const sent = await python({ mode: 'plain', port: mw.port('smtp'), from: 'app@local.test', to });
      expect(sent.out.auth_before_tls).toBe(false);
      expect(sent.out.tls).toBeUndefined();
      const envelope = await expectDelivered(sent, {
        listener: 'smtp',
        role: 'relay',
        from: 'app@local.test',
        to,
        authUser: undefined,
      });
      expect(envelope.tls).toBeUndefined();
    });

    it('refuses the server without the CA (SSLCertVerificationError), for STARTTLS and implicit TLS; nothing queued', async () => {
      const before = await spoolCount();
      const login = [ALICE.username, ALICE.password] as const;
      const starttls = await python({
        mode: 'starttls',
        port: mw.port('submission'),
        from: ALICE.username,
        to: ['bob@local.test'],
        login,
      });
      expect(starttls.out.cert_error).toMatch(/self[- ]signed certificate/i);
      const implicit = await python({
        mode: 'ssl',
        port: mw.port('submissions'),
        from: ALICE.username,
        to: ['bob@local.test'],
        login,
      });
      expect(implicit.out.cert_error).toMatch(/self[- ]signed certificate/i);
      expect(await spoolCount()).toBe(before);
    });
  });
});
