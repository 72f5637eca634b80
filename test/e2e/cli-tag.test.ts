/**
 * `mailwharf --dev --tag "…"` as a Mailpit user writes `mailpit --tag "…"`: the flag (or
 * MAILWHARF_TAG) sets sink.tagRules, so a captured message matching a rule's search has its
 * tags in the API at the 250; a bad value is one line naming the flag or the variable, exit 2.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startCliProcess } from '../helpers/process.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Every dev listener and the UI on ephemeral ports. */
const EPHEMERAL = {
  MAILWHARF_SMTP_PORT: '0',
  MAILWHARF_SUBMISSION_PORT: '0',
  MAILWHARF_SUBMISSIONS_PORT: '0',
  MAILWHARF_ALT_SUBMISSION_PORT: '0',
  MAILWHARF_HTTP_PORT: '0',
};

interface Listed {
  readonly messages: readonly { readonly Subject: string; readonly Tags: readonly string[] }[];
}

describe('--tag and MAILWHARF_TAG', () => {
  it('tag rules from the flag (repeated) and the variable tag captured mail; the flag wins over the variable', async () => {
    const state = await mkdtemp(join(tmpdir(), 'mailwharf-tag-state-'));
    dirs.push(state);
    const server = await startCliProcess(
      [
        '--dev',
        '--tag',
        // Mailpit's syntax: rules separated by spaces, quotes keep a space, tags by commas.
        '"Foo Bar",billing=subject:invoice shop=from:shop@example.com',
        '--tag',
        'urgent="subject:urgent now"',
      ],
      { env: { ...EPHEMERAL, XDG_STATE_HOME: state, MAILWHARF_TAG: 'from-env=subject:invoice' } },
    );
    try {
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.ports.smtp ?? 0 });
      await transport.sendMail({
        from: 'shop@example.com',
        to: 'dev@example.org',
        subject: 'Invoice 7',
        text: 'x',
      });
      await transport.sendMail({
        from: 'a@example.com',
        to: 'dev@example.org',
        subject: 'Urgent: now',
        text: 'x',
      });
      await transport.sendMail({ from: 'a@example.com', to: 'dev@example.org', subject: 'plain', text: 'x' });
      const response = await fetch(`http://127.0.0.1:${String(server.ports.http)}/api/v1/messages`);
      const listed = (await response.json()) as Listed;
      const tagsOf = new Map(listed.messages.map((m) => [m.Subject, [...m.Tags].sort()]));
      expect(tagsOf).toEqual(
        new Map([
          ['Invoice 7', ['Foo Bar', 'billing', 'shop']],
          ['Urgent: now', ['urgent']],
          ['plain', []],
        ]),
      );
    } finally {
      server.child.kill('SIGTERM');
      expect((await server.exited()).code).toBe(0);
    }
  }, 60_000);

  it.each([
    [['--tag', 'nosearch'], {}, '--tag: "nosearch" is not TAG[,TAG]=SEARCH (e.g. billing=subject:invoice)'],
    [
      ['--tag', ',x=subject:a'],
      {},
      '--tag: ",x=subject:a" is not TAG[,TAG]=SEARCH (e.g. billing=subject:invoice)',
    ],
    [[], { MAILWHARF_TAG: 'big=larger:huge' }, 'MAILWHARF_TAG: sink.tagRules[0].match: '],
    [['--tag', 'bad!tag=subject:a'], {}, '--tag: sink.tagRules[0].tags[0]: '],
  ])('%j %j: one line naming the flag or variable, exit 2', async (flags, env, line) => {
    const result = await runCli(['check-config', '--dev', ...flags], { env });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(line);
  });

  it('--help shows the flag and its variable', async () => {
    const help = await runCli(['--help']);
    expect(help.stdout).toMatch(/--tag "TAG=SEARCH"\s+MAILWHARF_TAG\s+tag rules, as Mailpit's --tag/);
  });
});
