/**
 * `npx mailwharf --dev --smtp-port P --http-port Q` as a CI job runs it: from an empty
 * directory (the checkout), with Mailpit's ports possibly taken. It must serve mail on P and the
 * UI on Q, say where the UI and the spool are, and leave the directory as empty as it found it.
 * P and Q are 0 here, the bound ports read from the ready line: a port found free and closed
 * again could be taken by another test before the server binds it.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, expect, it } from 'vitest';
import { startCliProcess } from '../helpers/process.js';
import { SmtpProbe } from '../helpers/smtp-probe.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

it('starts from an empty directory, serves mail on P and the UI on Q, and leaves the directory empty', async () => {
  const work = await mkdtemp(join(tmpdir(), 'mailwharf-npx-cwd-'));
  const state = await mkdtemp(join(tmpdir(), 'mailwharf-npx-state-'));
  dirs.push(work, state);
  const server = await startCliProcess(['--dev', '--smtp-port', '0', '--http-port', '0'], {
    cwd: work,
    env: {
      XDG_STATE_HOME: state,
      // The other dev listeners (1587, 1465, 2525) on ephemeral ports: a parallel run on this
      // machine may hold the fixed ones. The variables are the same table as the flags.
      MAILWHARF_SUBMISSION_PORT: '0',
      MAILWHARF_SUBMISSIONS_PORT: '0',
      MAILWHARF_ALT_SUBMISSION_PORT: '0',
    },
  });
  try {
    const smtpPort = server.ports.smtp ?? 0;
    const httpPort = server.ports.http ?? 0;
    // The flags were taken: not the dev defaults (Mailpit's 1025 and 8025), but what 0 bound.
    expect([smtpPort, httpPort]).not.toContain(0);
    expect(smtpPort).not.toBe(1025);
    expect(httpPort).not.toBe(8025);
    const ready = server.logs.find((entry) => entry.msg === 'mailwharf ready');
    const spool = String(ready?.spool);
    expect(spool.startsWith(work)).toBe(false);
    expect(existsSync(spool)).toBe(true);
    // The one line a person reads: the UI's URL and where mail is kept, and for how long.
    const line = server.logs.find((entry) => String(entry.msg).startsWith('web UI '))?.msg;
    expect(line).toContain(`web UI http://127.0.0.1:${String(httpPort)}/`);
    expect(line).toContain(`smtp 127.0.0.1:${String(smtpPort)}`);
    expect(line).toContain(`spool ${spool} (temporary, removed on exit; --spool DIR keeps mail)`);

    await nodemailer
      .createTransport({ host: '127.0.0.1', port: smtpPort })
      .sendMail({ from: 'ci@example.com', to: 'dev@example.org', subject: 'npx-style', text: 'hello' });
    const base = `http://127.0.0.1:${String(httpPort)}`;
    const listed = (await (await fetch(`${base}/api/v1/messages`)).json()) as {
      messages: { Subject: string }[];
    };
    expect(listed.messages.map((message) => message.Subject)).toEqual(['npx-style']);
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    // The self-signed certificate went to the XDG state directory, not ./certs.
    expect(await readdir(join(state, 'mailwharf', 'certs'))).toContain('localhost.selfsigned.crt');

    server.child.kill('SIGTERM');
    expect((await server.exited()).code).toBe(0);
    expect(await readdir(work)).toEqual([]);
    expect(existsSync(spool)).toBe(false);
  } finally {
    server.child.kill('SIGKILL');
  }
});

it('the dev profile does not limit loopback clients per address (a test runner with many workers)', async () => {
  const state = await mkdtemp(join(tmpdir(), 'mailwharf-npx-state-'));
  dirs.push(state);
  const server = await startCliProcess(
    ['--dev', '--no-ui', '--smtp-port', '0', '--submission-port', '0', '--submissions-port', '0'],
    { env: { XDG_STATE_HOME: state, MAILWHARF_ALT_SUBMISSION_PORT: '0' } },
  );
  const probes: SmtpProbe[] = [];
  try {
    // 40 at once: twice the production per-client limit of 20.
    for (let i = 0; i < 40; i++) probes.push(await SmtpProbe.connect(server.ports.smtp ?? 0));
    const greetings = await Promise.all(probes.map((probe) => probe.read()));
    expect(greetings.map((greeting) => greeting.code)).toEqual(Array.from({ length: 40 }, () => 220));
  } finally {
    for (const probe of probes) probe.close();
    server.child.kill('SIGTERM');
    await server.exited();
  }
});

it('a dev server killed with SIGKILL leaves its temporary spool; the next --dev start removes it, never a live one', async () => {
  const root = await mkdtemp(join(tmpdir(), 'mailwharf-npx-tmp-'));
  const state = await mkdtemp(join(tmpdir(), 'mailwharf-npx-state-'));
  dirs.push(root, state);
  const start = () =>
    startCliProcess(['--dev', '--no-ui', '--smtp-port', '0'], {
      env: {
        TMPDIR: root,
        XDG_STATE_HOME: state,
        MAILWHARF_SUBMISSION_PORT: '0',
        MAILWHARF_SUBMISSIONS_PORT: '0',
        MAILWHARF_ALT_SUBMISSION_PORT: '0',
      },
    });
  const spoolOf = (server: Awaited<ReturnType<typeof start>>): string =>
    String(server.logs.find((entry) => entry.msg === 'mailwharf ready')?.spool);
  const killed = await start();
  const live = await start();
  const servers = [killed, live];
  try {
    const [killedSpool, liveSpool] = [spoolOf(killed), spoolOf(live)];
    expect(killedSpool.startsWith(root)).toBe(true);
    killed.child.kill('SIGKILL');
    await killed.exited();
    expect(existsSync(killedSpool)).toBe(true);
    // A directory some other program made with our prefix but no owner file is not judged.
    await mkdir(join(root, 'mailwharf-dev-foreign'));

    const next = await start();
    servers.push(next);
    expect(existsSync(killedSpool)).toBe(false);
    expect(existsSync(liveSpool)).toBe(true);
    expect(existsSync(spoolOf(next))).toBe(true);
    expect(existsSync(join(root, 'mailwharf-dev-foreign'))).toBe(true);
  } finally {
    for (const server of servers) server.child.kill('SIGTERM');
    await Promise.all(servers.map((server) => server.exited()));
  }
});
