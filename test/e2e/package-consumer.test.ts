/**
 * The published shape, as a consumer gets it: `npm pack` (prepack builds), a fresh ESM project
 * that installs the tarball, a strict type-check of a node:test file that uses the fixture,
 * then that test compiled and run. The npm registry (or its local cache) must be reachable.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion within `timeout` ms; never throws, the caller asserts. */
function run(command: string, args: readonly string[], cwd: string, timeout: number): Promise<Run> {
  return new Promise((resolveRun) => {
    execFile(
      command,
      args,
      { cwd, timeout, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, CI: '1' } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        const note = error && code === null ? `\n[${command} ${args.join(' ')}: ${error.message}]` : '';
        resolveRun({ code, stdout, stderr: stderr + note });
      },
    );
  });
}

/** Shown when a step fails, so the failure says which step and why. */
function report(step: string, result: Run): string {
  return `${step} exited ${String(result.code)}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

const CONSUMER_TEST = `import assert from 'node:assert/strict';
import { test } from 'node:test';
import nodemailer from 'nodemailer';
import { startMailwharf, type CapturedMessage, type Mailwharf, type MessageFilter } from 'mailwharf';

test('a consumer captures what nodemailer sends', async () => {
  await using mail = await startMailwharf();
  const fixture: Mailwharf = mail;
  const port = fixture.ports.smtp;
  assert.ok(port !== undefined, 'the smtp listener has a port');

  const transport = nodemailer.createTransport({ host: '127.0.0.1', port });
  const info = await transport.sendMail({
    from: 'App <app@example.com>',
    to: 'user@example.org',
    subject: 'Hello from a consumer',
    text: 'installed from the tarball',
  });
  assert.deepEqual(info.accepted, ['user@example.org']);

  const filter: MessageFilter = { subject: 'Hello from a consumer' };
  const message: CapturedMessage = await mail.waitForMessage(filter, { timeout: 10_000 });
  assert.equal(message.subject, 'Hello from a consumer');
  assert.deepEqual(
    message.envelope.rcptTo.map((recipient) => recipient.address),
    ['user@example.org'],
  );
  assert.equal(message.envelope.mailFrom, 'app@example.com');

  // The declarations are real, not any: these must be type errors.
  // @ts-expect-error subject is a string
  const wrong: number = message.subject;
  void wrong;
  // @ts-expect-error there is no such method
  void mail.notAMethod;
});
`;

const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    lib: ['ES2023', 'ESNext.Disposable'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noImplicitAny: true,
    esModuleInterop: true,
    types: ['node'],
    outDir: 'out',
    rootDir: '.',
  },
  files: ['consumer.test.ts'],
};

describe('the packed package, as a consumer installs it', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('installs, type-checks strictly, runs a node:test fixture test, and ships a working bin', async () => {
    const packDir = await mkdtemp(join(tmpdir(), 'package-consumer-pack-'));
    dirs.push(packDir);
    const project = await mkdtemp(join(tmpdir(), 'package-consumer-app-'));
    dirs.push(project);

    // 1. Pack (prepack runs the build); --json keeps stdout machine-readable.
    // --ignore-scripts: `npm test` has built dist already (pretest), and rebuilding it here
    // would race with tests that run dist/src/cli.js at the same moment.
    const pack = await run(
      NPM,
      ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir],
      ROOT,
      120_000,
    );
    expect(pack.code, report('npm pack', pack)).toBe(0);
    const packed = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    const files = packed[0]?.files.map((file) => file.path) ?? [];
    expect(files).toEqual(
      expect.arrayContaining(['package.json', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli.js']),
    );
    expect(files).toContain('config/dev.yaml');
    expect(files.filter((path) => path.startsWith('test/') || path.startsWith('src/'))).toEqual([]);
    // The CLI bundle ships its source maps (a server's stack traces, with --enable-source-maps,
    // name src/*.ts lines instead of a line of a chunk); every chunk has one, nothing else does.
    const scripts = files.filter(
      (path) =>
        (path === 'dist/src/cli.js' || path.startsWith('dist/src/cli-chunks/')) && path.endsWith('.js'),
    );
    expect(files.filter((path) => path.endsWith('.map')).sort()).toEqual(
      scripts.map((path) => `${path}.map`).sort(),
    );
    const tarballs = (await readdir(packDir)).filter((name) => name.endsWith('.tgz'));
    expect(tarballs).toEqual([packed[0]?.filename]);
    const tarball = join(packDir, tarballs[0] ?? '');

    // 2. A fresh ESM project that installs the tarball and what a consumer would add.
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify(
        { name: 'mailwharf-consumer', version: '0.0.0', private: true, type: 'module' },
        null,
        2,
      ),
    );
    const install = await run(
      NPM,
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        // better-sqlite3's install script would compile SQLite again (minutes on 2 cores); its
        // binary is the one this repository built, copied below (same version, same Node).
        '--ignore-scripts',
        tarball,
        'nodemailer',
        'typescript@5.9',
        '@types/node@20',
        '@types/nodemailer',
      ],
      project,
      150_000,
    );
    expect(install.code, report('npm install', install)).toBe(0);
    const nativeDir = 'node_modules/better-sqlite3/build/Release';
    await mkdir(join(project, nativeDir), { recursive: true });
    await copyFile(
      join(ROOT, nativeDir, 'better_sqlite3.node'),
      join(project, nativeDir, 'better_sqlite3.node'),
    );

    // 3. Strict type-check of the consumer file against the installed declarations.
    await writeFile(join(project, 'consumer.test.ts'), CONSUMER_TEST);
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG, null, 2));
    const tsc = join(project, 'node_modules/typescript/bin/tsc');
    const check = await run(process.execPath, [tsc, '--noEmit', '-p', 'tsconfig.json'], project, 90_000);
    expect(check.code, report('tsc --noEmit', check)).toBe(0);

    // 4. Compile and run it with node:test.
    const build = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], project, 90_000);
    expect(build.code, report('tsc', build)).toBe(0);
    const test = await run(process.execPath, ['--test', join('out', 'consumer.test.js')], project, 60_000);
    expect(test.code, report('node --test', test)).toBe(0);
    expect(test.stdout).toMatch(/\bpass 1\b/);
    expect(test.stdout).toMatch(/\bfail 0\b/);

    // 5. The installed bin runs.
    const bin = await run(
      join(project, 'node_modules/.bin/mailwharf'),
      ['check-config', '--dev'],
      project,
      30_000,
    );
    expect(bin.code, report('mailwharf check-config --dev', bin)).toBe(0);
    expect(bin.stdout).toMatch(/: ok \(\d+ listeners\)/);

    // 6. The maps name the sources without carrying them (megabytes a server does not need).
    const map = JSON.parse(
      await readFile(join(project, 'node_modules/mailwharf/dist/src/cli.js.map'), 'utf8'),
    ) as { sources: string[]; sourcesContent?: unknown };
    expect(map.sources).toContain('../../src/cli.ts');
    expect(map.sourcesContent).toBeUndefined();
  }, 300_000);
});
