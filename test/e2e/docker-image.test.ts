/**
 * The Docker image as documented (`docker run mailwharf --dev`), without a Docker engine: the
 * final stage of the Dockerfile is read (WORKDIR, ENV, EXPOSE, HEALTHCHECK, ENTRYPOINT) and
 * its exact command is run as an unprivileged user (nobody; the image's `node` user does not
 * exist here) in a copy of /app that user cannot write, with a writable /data. It must bind
 * every address (reached here on 127.0.0.2), keep everything under /data, answer /readyz
 * through the image's own HEALTHCHECK command, and stop on SIGTERM with exit 0.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

const ROOT = resolve(import.meta.dirname, '../..');
const NOBODY = 65534;

interface FinalStage {
  readonly workdir: string;
  readonly env: Record<string, string>;
  readonly expose: number[];
  readonly entrypoint: string[];
  readonly healthcheck: string[];
  readonly user: string;
}

/** The last stage's instructions (continuation lines joined); enough of Dockerfile syntax for ours. */
function parseFinalStage(text: string): FinalStage {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stage = lines.slice(lines.findLastIndex((line) => /^FROM /i.test(line)));
  const args = (keyword: string): string[] =>
    stage
      .filter((line) => line.toUpperCase().startsWith(`${keyword} `))
      .map((line) => line.slice(keyword.length).trim());
  const env: Record<string, string> = {};
  for (const line of args('ENV'))
    for (const [, key = '', value = ''] of line.matchAll(/(\w+)=(\S+)/g)) env[key] = value;
  const healthcheck = args('HEALTHCHECK')[0] ?? '';
  return {
    workdir: args('WORKDIR').at(-1) ?? '/',
    env,
    expose: args('EXPOSE').flatMap((line) => line.split(/\s+/).map(Number)),
    entrypoint: JSON.parse(args('ENTRYPOINT')[0] ?? '[]') as string[],
    healthcheck: JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD ') + 4)) as string[],
    user: args('USER').at(-1) ?? 'root',
  };
}

let stage: FinalStage;
let root = '';
let app: string;
let data: string;

/** Every file under `dir`, relative, following no links (node_modules is a link). */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.map((entry) => relative(dir, join(entry.parentPath, entry.name))).sort();
}

beforeAll(async () => {
  stage = parseFinalStage(await readFile(join(ROOT, 'Dockerfile'), 'utf8'));
  root = await mkdtemp(join(tmpdir(), 'mailwharf-image-'));
  await chmod(root, 0o755);
  // What the final stage copies into WORKDIR; the production dependencies are the worktree's.
  app = join(root, 'app');
  await mkdir(app);
  for (const path of ['package.json', 'dist', 'config', 'contrib/docker/healthcheck.mjs']) {
    await cp(join(ROOT, path), join(app, path), { recursive: true });
  }
  await rm(join(app, 'dist', 'test'), { recursive: true, force: true });
  await symlink(join(ROOT, 'node_modules'), join(app, 'node_modules'));
  // /app read-only for the server's user: owned by root, no write bits anywhere.
  await execFilePromise('chmod', ['-R', 'a-w', app]);
  data = join(root, 'data');
  await mkdir(data);
  if (process.getuid?.() === 0) await chown(data, NOBODY, NOBODY);
});
afterAll(async () => {
  if (root === '') return;
  await execFilePromise('chmod', ['-R', 'u+w', root]);
  await rm(root, { recursive: true, force: true });
});

function execFilePromise(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    execFile(command, args, { timeout: 20_000, ...options }, (error, stdout, stderr) => {
      resolveRun({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

/** `docker run -e …` for the image: its ENV, then the run's own, as the unprivileged user. */
function asImageUser(
  argv: readonly string[],
  env: Record<string, string>,
): [string, string[], NodeJS.ProcessEnv] {
  const fullEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', ...stage.env, ...env };
  const [command = 'node', ...args] = argv;
  const executable = command === 'node' ? process.execPath : command;
  return ['setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', executable, ...args], fullEnv];
}

describe('the Docker image, run as documented', () => {
  it('exposes every port the dev and production profiles open, and runs as a non-root user', async () => {
    expect(stage.user).toBe('node');
    const ports = new Set<number>([8025]);
    for (const file of ['dev.yaml', 'mailwharf.yaml']) {
      const config = parseYaml(await readFile(join(ROOT, 'config', file), 'utf8')) as {
        listeners: { port: number }[];
      };
      for (const listener of config.listeners) ports.add(listener.port);
    }
    expect(stage.expose.slice().sort()).toEqual([...ports].sort());
    expect(stage.env).toMatchObject({ MAILWHARF_HOST: '0.0.0.0', MAILWHARF_SPOOL_DIR: '/data/spool' });
  });

  it('`mailwharf --dev` as nobody: /app read-only, state in /data, 0.0.0.0, /readyz via HEALTHCHECK, SIGTERM exits 0', async (context) => {
    if (process.getuid?.() !== 0) {
      context.skip('needs root to run the image command as nobody');
      return;
    }
    // Port 0 everywhere, the bound ports read from the ready log: a port found free and then
    // closed again could be taken by another test before the server binds it.
    const portVariables = {
      smtp: 'MAILWHARF_SMTP_PORT',
      submission: 'MAILWHARF_SUBMISSION_PORT',
      submissions: 'MAILWHARF_SUBMISSIONS_PORT',
      'alt-submission': 'MAILWHARF_ALT_SUBMISSION_PORT',
      http: 'MAILWHARF_HTTP_PORT',
    } as const;
    // The image's /data, here a directory of the test: the paths of ENV pointed at it.
    const env: Record<string, string> = {
      ...Object.fromEntries(Object.values(portVariables).map((variable) => [variable, '0'])),
      MAILWHARF_SPOOL_DIR: stage.env.MAILWHARF_SPOOL_DIR?.replace(/^\/data/, data) ?? '',
      MAILWHARF_CERTS_DIR: stage.env.MAILWHARF_CERTS_DIR?.replace(/^\/data/, data) ?? '',
    };
    const before = await listFiles(app);
    const [command, args, fullEnv] = asImageUser([...stage.entrypoint, '--dev'], env);
    const child: ChildProcess = spawn(command, args, {
      cwd: app,
      env: fullEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolveExit) =>
      child.once('exit', (code) => resolveExit(code)),
    );
    try {
      const logs = await waitReady(child, exited);
      const bound = logs.find((entry) => entry.msg === 'mailwharf ready')?.ports as Record<string, number>;
      expect(Object.keys(bound).sort()).toEqual(Object.keys(portVariables).sort());
      const smtpPort = bound.smtp ?? 0;
      const httpPort = bound.http ?? 0;
      // The HEALTHCHECK reads the ports from the same variables: in a container they are fixed.
      for (const [name, variable] of Object.entries(portVariables)) env[variable] = String(bound[name]);
      const line = String(logs.find((entry) => String(entry.msg).startsWith('web UI '))?.msg);
      expect(line).toContain(`web UI http://0.0.0.0:${String(httpPort)}/`);

      // 127.0.0.2 reaches only a socket bound to every address, as -p does in Docker.
      expect(await greeting('127.0.0.2', smtpPort)).toMatch(/^220 /);
      const ready = await fetch(`http://127.0.0.2:${String(httpPort)}/readyz`);
      expect(ready.status).toBe(200);

      const [hcCommand, hcArgs, hcEnv] = asImageUser(stage.healthcheck, env);
      const health = await execFilePromise(hcCommand, hcArgs, { env: hcEnv, cwd: app });
      expect(health, 'the HEALTHCHECK command').toMatchObject({ code: 0 });

      expect(await listFiles(data)).toEqual(expect.arrayContaining(['certs', 'spool', 'spool/queue']));
      expect(await listFiles(app)).toEqual(before);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    // With the server gone, the HEALTHCHECK fails: it checks something real.
    const [hcCommand, hcArgs, hcEnv] = asImageUser(stage.healthcheck, env);
    expect((await execFilePromise(hcCommand, hcArgs, { env: hcEnv, cwd: app })).code).toBe(1);
  });
});

/** The JSON log lines up to "mailwharf ready" (bounded); rejects with stderr if it exits first. */
function waitReady(child: ChildProcess, exited: Promise<number | null>): Promise<Record<string, unknown>[]> {
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready within 15 s; stderr: ${stderr}`)), 15_000);
    let pending = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === 'mailwharf ready') {
            clearTimeout(timer);
            resolveReady(logs);
          }
        } catch {
          // not a log line
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${String(code)} before ready; stderr: ${stderr}`));
    });
  });
}

/** The first line a server sends on host:port (bounded). */
function greeting(host: string, port: number): Promise<string> {
  return new Promise((resolveLine, reject) => {
    const socket = connect({ host, port });
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error(`no greeting from ${host}:${String(port)}`));
    });
    socket.once('data', (data) => {
      socket.end('QUIT\r\n');
      resolveLine(data.toString());
    });
    socket.once('error', reject);
  });
}
