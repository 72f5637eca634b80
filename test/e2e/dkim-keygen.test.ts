import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDkimKeys } from '../../src/dkim/keys.js';
import { DkimSigner } from '../../src/dkim/sign.js';
import { pythonDkimAvailable, verifyWithPythonDkim } from '../helpers/dkim-verify.js';
import { runCli } from '../helpers/process.js';

/** The TXT record as a resolver returns it: the quoted strings of the zone-file line, joined. */
function recordFrom(stdout: string): { name: string; value: string } {
  const line = stdout.split('\n').find((l) => l.includes(' IN TXT '));
  if (!line) throw new Error(`no TXT line in:\n${stdout}`);
  const name = line.slice(0, line.indexOf('. IN TXT'));
  const value = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('');
  return { name, value };
}

// Each test runs several CLI processes (and RSA key generation): seconds each on a loaded machine.
describe('mailwharf dkim keygen', { timeout: 90_000 }, () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'mailwharf-keygen-'));
    dirs.push(dir);
    return dir;
  };

  it.each(['rsa-sha256', 'ed25519-sha256'] as const)(
    'writes a %s key (0600) whose printed record verifies a signature made with it',
    async (algorithm) => {
      const cwd = await tempDir();
      const result = await runCli(['dkim', 'keygen', 'Example.COM', 'mail2026', '--algorithm', algorithm], {
        cwd,
      });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const keyFile = join(cwd, 'mail2026._domainkey.example.com.pem');
      expect(await readdir(cwd)).toEqual(['mail2026._domainkey.example.com.pem']);
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      expect(result.stdout).toContain(`keyFile: ${keyFile}`);
      expect(result.stdout).toContain(`algorithm: ${algorithm}`);
      const record = recordFrom(result.stdout);
      expect(record.name).toBe('mail2026._domainkey.example.com');

      const keys = loadDkimKeys(
        [{ domain: 'example.com', selector: 'mail2026', keyFile, algorithm }],
        'test',
      );
      const message = Buffer.from(
        'From: a@example.com\r\nTo: b@example.org\r\nSubject: keygen\r\n\r\nbody\r\n',
      );
      const outcome = await new DkimSigner(keys).sign(
        message.toString().split('\r\n\r\n')[0] ?? '',
        Readable.from([message]),
      );
      if (outcome.kind !== 'signed') throw new Error(JSON.stringify(outcome));
      if (pythonDkimAvailable())
        expect(
          verifyWithPythonDkim(Buffer.concat([Buffer.from(outcome.header), message]), {
            [record.name]: record.value,
          }),
        ).toBe('pass');
    },
  );

  it('never overwrites a key, and refuses bad arguments with exit 2', async () => {
    const cwd = await tempDir();
    const first = await runCli(['dkim', 'keygen', 'example.com', 's1', '--key-file', 'k.pem'], { cwd });
    expect(first.code).toBe(0);
    const again = await runCli(['dkim', 'keygen', 'example.com', 's1', '--key-file', 'k.pem'], { cwd });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/k\.pem exists; not overwriting a key/);
    for (const [args, message] of [
      [['dkim', 'keygen', 'not a domain', 's1'], /is not a domain name/],
      [['dkim', 'keygen', 'example.com', 's_1'], /is not a DNS label/],
      [['dkim', 'keygen', 'example.com', 's1', '--algorithm', 'rsa-sha1'], /--algorithm must be one of/],
      [['dkim', 'keygen', 'example.com', 's1', '--bits', '512'], /--bits must be an integer from 1024/],
      [['dkim', 'keygen', 'example.com'], /usage: mailwharf dkim keygen/],
    ] as const) {
      const result = await runCli([...args], { cwd });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    expect((await readdir(cwd)).sort()).toEqual(['k.pem']);
  });
});
