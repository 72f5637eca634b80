/**
 * Broken configs, as an operator writes them: each is refused by check-config and by serve
 * alike with exit 2 and one line naming the file (or variable) and the field, never a stack
 * trace, and never after a listener has started.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CLI, runCli, type RunResult } from '../helpers/process.js';

const run = promisify(execFile);

let root: string;
let counter = 0;

/** A certificate and key made by openssl for `names`, as an operator's CA would. */
async function makePair(name: string, names: string): Promise<{ cert: string; key: string }> {
  const cert = join(root, `${name}.crt`);
  const key = join(root, `${name}.key`);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-subj',
    '/CN=mx.test',
    '-addext',
    `subjectAltName=${names}`,
    '-days',
    '2',
  ]);
  return { cert, key };
}

let good: { cert: string; key: string };
let other: { cert: string; key: string };
let elsewhere: { cert: string; key: string };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailwharf-config-errors-'));
  await chmod(root, 0o755);
  good = await makePair('good', 'DNS:mx.test');
  other = await makePair('other', 'DNS:mx.test');
  elsewhere = await makePair('elsewhere', 'DNS:www.example.org');
  await writeFile(join(root, 'garbage.pem'), 'this is not PEM\n');
  await mkdir(join(root, 'a-directory.pem'));
  await chmod(good.cert, 0o644);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A valid config for a child-process server with `patch` applied at the top level. */
function configText(patch: Record<string, unknown>): string {
  return stringify({
    hostname: 'mx.test',
    mode: 'capture',
    spool: { dir: join(root, 'spool') },
    tls: { selfSignedDir: join(root, 'certs') },
    policies: { relay: { auth: 'none', relay: { trustedNetworks: ['127.0.0.1/32'] } } },
    listeners: [
      { name: 'smtp', role: 'relay', port: 0, host: '127.0.0.1', tls: 'starttls', policy: 'relay' },
    ],
    ...patch,
  });
}

async function writeConfig(text: string): Promise<string> {
  const path = join(root, `broken-${String(++counter)}.yaml`);
  await writeFile(path, text, { mode: 0o644 });
  return path;
}

const listener = {
  name: 'smtp',
  role: 'relay',
  port: 0,
  host: '127.0.0.1',
  tls: 'starttls',
  policy: 'relay',
};

interface Broken {
  readonly why: string;
  readonly text: () => string;
  /** What the one line says after `mailwharf: SOURCE: `; SOURCE is the file unless `env` is set. */
  readonly line: () => string;
  readonly env?: Record<string, string>;
}

const BROKEN: readonly Broken[] = [
  {
    why: 'a misspelt key',
    text: () => configText({ listeners: [{ ...listener, prot: 25 }] }),
    line: () => 'listeners[0].prot: unknown key',
  },
  {
    why: 'a port written as text',
    text: () => configText({ listeners: [{ ...listener, port: 'twenty-five' }] }),
    line: () => 'listeners[0].port: Invalid input: expected number, received string',
  },
  {
    why: 'a bad CIDR',
    text: () =>
      configText({ policies: { relay: { auth: 'none', relay: { trustedNetworks: ['10.0.0.0/33'] } } } }),
    line: () =>
      'policies.relay.relay.trustedNetworks[0]: must be an IP address or CIDR, e.g. 192.0.2.0/24 or ::1/128',
  },
  {
    why: 'two listeners on one port (the second would blame itself for "port in use")',
    text: () =>
      configText({
        listeners: [
          { ...listener, port: 40125 },
          { ...listener, name: 'other', port: 40125, host: '0.0.0.0' },
        ],
      }),
    line: () => 'listeners[1].port: port 40125 is already used by listener "smtp" (127.0.0.1:40125)',
  },
  {
    why: 'the web UI on a listener’s port',
    text: () =>
      configText({ listeners: [{ ...listener, port: 40126 }], http: { enabled: true, port: 40126 } }),
    line: () => 'http.port: port 40126 is already used by listener "smtp" (127.0.0.1:40126)',
  },
  {
    why: 'a tag rule whose match the search parser refuses',
    text: () =>
      configText({
        sink: {
          tagRules: [
            { match: 'subject:invoice', tags: ['billing'] },
            { match: 'larger:huge', tags: ['big'] },
          ],
        },
      }),
    line: () => 'sink.tagRules[1].match: not a size: huge',
  },
  {
    why: 'a tag rule with a tag Mailpit would refuse',
    text: () => configText({ sink: { tagRules: [{ match: 'subject:invoice', tags: ['bill!ing'] }] } }),
    line: () => "sink.tagRules[0].tags[0]: must be 1-100 letters, digits, spaces, '-', '_', '.' or '@'",
  },
  {
    why: 'a certificate file that does not exist',
    text: () => configText({ tls: { cert: join(root, 'missing.crt'), key: good.key } }),
    line: () => `tls.cert: ${join(root, 'missing.crt')}: no such file`,
  },
  {
    why: 'a directory where the certificate should be',
    text: () => configText({ tls: { cert: join(root, 'a-directory.pem'), key: good.key } }),
    line: () => `tls.cert: ${join(root, 'a-directory.pem')}: is a directory, not a PEM file`,
  },
  {
    why: 'garbage instead of a certificate',
    text: () => configText({ tls: { cert: join(root, 'garbage.pem'), key: good.key } }),
    line: () => `tls.cert: ${join(root, 'garbage.pem')}: holds no PEM certificate`,
  },
  {
    why: 'garbage instead of a key',
    text: () => configText({ tls: { cert: good.cert, key: join(root, 'garbage.pem') } }),
    line: () =>
      `tls.key: ${join(root, 'garbage.pem')}: holds no PEM private key (or it is encrypted with a passphrase)`,
  },
  {
    why: 'a key that belongs to another certificate (every handshake would fail)',
    text: () => configText({ tls: { cert: good.cert, key: other.key } }),
    line: () => `tls.key: ${other.key}: does not match the certificate in ${good.cert}`,
  },
  {
    why: 'a certificate for another name',
    text: () => configText({ tls: { cert: elsewhere.cert, key: elsewhere.key } }),
    line: () =>
      `tls.cert: ${elsewhere.cert}: does not cover hostname "mx.test" (it names DNS:www.example.org)`,
  },
  {
    why: 'a bad variable is blamed on the variable, not the file',
    text: () => configText({}),
    env: { MAILWHARF_LOG_LEVEL: 'verbose' },
    line: () =>
      'log.level: Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"',
  },
  {
    why: 'YAML that does not parse',
    text: () => 'listeners: [\n',
    line: () => 'invalid YAML: ',
  },
];

function expectOneLine(result: RunResult, expected: string): void {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr.endsWith('\n')).toBe(true);
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stderr.startsWith(expected)).toBe(true);
}

describe.each(['check-config', 'serve'])('%s refuses a broken config', (command) => {
  it.each(BROKEN.map((row) => [row.why, row] as const))('%s', async (_why, row) => {
    const path = await writeConfig(row.text());
    const result = await runCli([command, '--config', path], { env: row.env ?? {} });
    const source = row.env ? Object.keys(row.env).join(', ') : path;
    expectOneLine(result, `mailwharf: ${source}: ${row.line()}`);
  });

  it('a key the server may not read (run as nobody)', async (context) => {
    if (process.getuid?.() !== 0) {
      context.skip('needs root to start the CLI as nobody');
      return;
    }
    const key = join(root, 'private.key');
    await writeFile(key, '');
    await run('cp', [good.key, key]);
    await chmod(key, 0o600);
    const path = await writeConfig(configText({ tls: { cert: good.cert, key } }));
    const result = await new Promise<RunResult>((resolve) => {
      execFile(
        'setpriv',
        [
          '--reuid=nobody',
          '--regid=nogroup',
          '--clear-groups',
          process.execPath,
          CLI,
          command,
          '--config',
          path,
        ],
        { timeout: 20_000 },
        (error, stdout, stderr) => {
          resolve({
            code: error && typeof error.code === 'number' ? error.code : error ? null : 0,
            stdout,
            stderr,
          });
        },
      );
    });
    expectOneLine(result, `mailwharf: ${path}: tls.key: ${key}: permission denied (running as uid 65534)`);
  });
});

it('check-config accepts the good pair, so the refusals above are about the mistake', async () => {
  const path = await writeConfig(configText({ tls: { cert: good.cert, key: good.key } }));
  const result = await runCli(['check-config', '--config', path]);
  expect(result.stderr).toBe('');
  expect(result.stdout).toBe(`${path}: ok (1 listeners)\n`);
  expect(result.code).toBe(0);
});
