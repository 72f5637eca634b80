import { createServer as createTcpServer, type Server } from 'node:net';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/auth/passwords.js';
import { runCli, startServerProcess, writeProcessConfig } from '../helpers/process.js';
import { SmtpProbe, sendMessage } from '../helpers/smtp-probe.js';

describe('mailwharf CLI', () => {
  const roots: string[] = [];
  afterAll(async () => {
    await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  });
  const config = async (extra: Record<string, unknown> = {}) => {
    const made = await writeProcessConfig(extra);
    roots.push(made.root);
    return made;
  };

  it('check-config accepts the bundled profiles', async () => {
    for (const flags of [['--dev'], []]) {
      const result = await runCli(['check-config', ...flags]);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/: ok \(4 listeners\)/);
    }
  });

  it('an invalid config exits 2 with one message naming the file and the field path', async () => {
    const { path } = await config({
      listeners: [{ name: 'smtp', role: 'relay', port: 70000, tls: 'none', policy: 'relay' }],
    });
    const result = await runCli(['check-config', '--config', path]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${path}: listeners[0].port:`);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a missing config file is named', async () => {
    const result = await runCli(['check-config', '--config', '/nonexistent/mailwharf.yaml']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('/nonexistent/mailwharf.yaml: cannot read the config file');
  });

  it('an unknown command exits 2 with usage', async () => {
    const result = await runCli(['frobnicate', '--dev']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command "frobnicate"');
    expect(result.stderr).toContain('usage:');
  });

  it('hash-password prints a scrypt hash of the password read on stdin', async () => {
    const result = await runCli(['hash-password'], { input: 's3cret pass\n' });
    expect(result.code).toBe(0);
    const hash = result.stdout.trim();
    expect(hash).toMatch(/^scrypt\$/);
    expect(await verifyPassword('s3cret pass', hash)).toBe(true);
    expect(await verifyPassword('s3cret pass\n', hash)).toBe(false);
  });

  it('a port in use: one line naming the listener and what to do, exit 1', async () => {
    const blocker: Server = createTcpServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const { path } = await config({
      listeners: [{ name: 'smtp', role: 'relay', port, host: '127.0.0.1', tls: 'none', policy: 'relay' }],
    });
    const result = await runCli(['--config', path]);
    blocker.close();
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `mailwharf: listener "smtp" (127.0.0.1:${port}): the port is already in use; stop the other server or change its port`,
    );
  });

  it('an HTTP port in use: one line naming http.port, exit 1', async () => {
    const blocker: Server = createTcpServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const { path } = await config({ mode: 'capture', http: { enabled: true, host: '127.0.0.1', port } });
    const result = await runCli(['--config', path]);
    blocker.close();
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `mailwharf: http (127.0.0.1:${String(port)}): the port is already in use; stop the other server or change http.port`,
    );
  });

  it('serves, lists and shows the queue, and exits 0 on SIGTERM', async () => {
    const { path } = await config();
    const server = await startServerProcess(path);
    const probe = await SmtpProbe.connect(server.ports.smtp ?? 0);
    await probe.read();
    await probe.command('EHLO cli.test');
    const reply = await sendMessage(
      probe,
      'a@cli.test',
      ['b@local.test', 'c@local.test'],
      'Subject: cli\r\n\r\nbody',
    );
    const id = /queued as (\w+)$/.exec(reply.last)?.[1] ?? '';
    probe.close();

    const table = await runCli(['queue', 'list', '--config', path]);
    expect(table.stdout).toMatch(
      new RegExp(
        `^${id}\\s+\\d+\\s+(queued|deferred)\\s+\\S+\\s+\\d+\\s+\\S+\\s+a@cli\\.test\\n\\s+b@local\\.test  (pending|deferred).*\\n\\s+c@local\\.test  (pending|deferred)`,
        'm',
      ),
    );
    const envelope = await runCli(['queue', 'show', id, '--envelope', '--config', path]);
    expect(JSON.parse(envelope.stdout)).toMatchObject({
      id,
      mailFrom: 'a@cli.test',
      listener: { name: 'smtp' },
    });
    const shown = await runCli(['queue', 'show', id, '--config', path]);
    expect(shown.stdout).toMatch(/^Received: from cli\.test /);
    expect(shown.stdout.endsWith('Subject: cli\r\n\r\nbody\r\n')).toBe(true);
    const missing = await runCli(['queue', 'show', '0000000000000000X', '--config', path]);
    expect(missing.code).toBe(1);

    server.child.kill('SIGTERM');
    expect(await server.exited()).toEqual({ code: 0, signal: null });
  });

  it('a second server on a live spool: one line naming the holder, exit 1; after kill -9 the lock is stale', async () => {
    const { path, spool } = await config();
    const first = await startServerProcess(path);
    // Another config (its own certificates, listeners on port 0) naming the same spool.
    const { path: secondPath } = await config({ spool: { dir: spool } });
    const second = await runCli(['--config', secondPath]);
    expect(second.code).toBe(1);
    expect(second.stderr.trim()).toBe(
      `mailwharf: spool ${spool} is in use by process ${String(first.child.pid)} ` +
        `(remove ${join(spool, 'lock')} only if no mailwharf runs there)`,
    );
    first.child.kill('SIGKILL');
    await first.exited();
    // The lock names a dead process: the next start takes it over.
    const third = await startServerProcess(path);
    expect((await readFile(join(spool, 'lock'), 'utf8')).split(' ')[0]).toBe(String(third.child.pid));
    third.child.kill('SIGTERM');
    expect(await third.exited()).toEqual({ code: 0, signal: null });
  });

  it('MAILWHARF_SPOOL_DIR overrides the configured spool', async () => {
    const { path, root } = await config();
    const other = join(root, 'other-spool');
    const result = await runCli(['queue', 'list', '--json', '--config', path], {
      env: { MAILWHARF_SPOOL_DIR: other },
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `mailwharf: no spool at ${other} (spool.dir, --spool or MAILWHARF_SPOOL_DIR)`,
    );
  });

  it('makes a self-signed certificate once and reuses it on the next start', async () => {
    const { path, root } = await config();
    const first = await startServerProcess(path);
    first.child.kill('SIGTERM');
    await first.exited();
    const certPath = join(root, 'certs', 'mx.test.selfsigned.crt');
    const before = await readFile(certPath, 'utf8');
    const second = await startServerProcess(path);
    second.child.kill('SIGTERM');
    await second.exited();
    expect(await readFile(certPath, 'utf8')).toBe(before);
  });

  it('reloads configured certificate files on SIGHUP', async () => {
    // Two certificates made by mailwharf itself for two hostnames, then swapped in place.
    const a = await config({ hostname: 'one.test' });
    const b = await config({ hostname: 'two.test' });
    for (const made of [a, b]) {
      const server = await startServerProcess(made.path);
      server.child.kill('SIGTERM');
      await server.exited();
    }
    const certA = join(a.root, 'certs', 'one.test.selfsigned.crt');
    const keyA = join(a.root, 'certs', 'one.test.selfsigned.key');
    const certB = join(b.root, 'certs', 'two.test.selfsigned.crt');
    const keyB = join(b.root, 'certs', 'two.test.selfsigned.key');
    // Both certificates also name localhost, so check-config's name check passes for either.
    const live = await config({
      hostname: 'localhost',
      tls: { cert: join(a.root, 'live.crt'), key: join(a.root, 'live.key') },
    });
    await writeFile(join(a.root, 'live.crt'), await readFile(certA));
    await writeFile(join(a.root, 'live.key'), await readFile(keyA));
    const server = await startServerProcess(live.path);
    const subjectOf = async (): Promise<string> => {
      const probe = await SmtpProbe.connect(server.ports.smtp ?? 0);
      await probe.read();
      await probe.command('EHLO reload.test');
      await probe.command('STARTTLS');
      const socket = await probe.upgrade({ rejectUnauthorized: false });
      const cn = socket.getPeerCertificate().subject.CN;
      probe.close();
      return Array.isArray(cn) ? cn.join(',') : (cn ?? '');
    };
    expect(await subjectOf()).toBe('one.test');
    await writeFile(join(a.root, 'live.crt'), await readFile(certB));
    await writeFile(join(a.root, 'live.key'), await readFile(keyB));
    server.child.kill('SIGHUP');
    const deadline = Date.now() + 5000;
    while (!server.logs.some((entry) => entry.msg === 'TLS certificate reloaded') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await subjectOf()).toBe('two.test');
    server.child.kill('SIGTERM');
    expect((await server.exited()).code).toBe(0);
  });
});

describe('mailwharf --version and help', () => {
  it('--version and -v print the version and exit 0', async () => {
    const { version } = JSON.parse(
      await readFile(join(import.meta.dirname, '../../package.json'), 'utf8'),
    ) as {
      version: string;
    };
    for (const flag of ['--version', '-v']) {
      const result = await runCli([flag]);
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(`mailwharf ${version}\n`);
    }
  });

  it('help lists every command; help COMMAND and COMMAND --help show that command alone', async () => {
    const all = await runCli(['help']);
    expect(all.code).toBe(0);
    for (const command of [
      'check-config',
      'queue list',
      'sink reindex',
      'dkim keygen',
      'tls forget DOMAIN',
      'hash-password',
    ])
      expect(all.stdout).toContain(`mailwharf ${command}`);
    expect(all.stdout).toContain('MAILWHARF_SMTP_PORT');
    for (const args of [
      ['help', 'queue'],
      ['queue', '--help'],
    ]) {
      const one = await runCli(args);
      expect(one.code).toBe(0);
      expect(one.stdout).toMatch(/^usage:\n {2}mailwharf queue list/);
      expect(one.stdout).not.toContain('hash-password');
    }
    const unknown = await runCli(['help', 'frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
  });
});
