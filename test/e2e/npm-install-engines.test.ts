/**
 * `npm ci` on a fresh clone, on the Node that runs the tests (CI runs the oldest one `engines`
 * allows, Node 20): no EBADENGINE warning, and `engines` admits that Node. A dependency that
 * dropped Node 20 shows up here before a user sees the warning. The npm registry (or its local
 * cache) must be reachable.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
let dir: string | undefined;
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

it(
  'npm ci prints no EBADENGINE warning, and engines.node admits this Node',
  { timeout: 300_000 },
  async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailwharf-npm-ci-'));
    const clone = dir;
    await copyFile(join(ROOT, 'package.json'), join(clone, 'package.json'));
    await copyFile(join(ROOT, 'package-lock.json'), join(clone, 'package-lock.json'));
    const output = await new Promise<string>((resolveRun, reject) => {
      execFile(
        process.platform === 'win32' ? 'npm.cmd' : 'npm',
        ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'],
        { cwd: clone, timeout: 280_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, CI: '1' } },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`npm ci failed: ${error.message}\n${stderr}`));
          else resolveRun(stdout + stderr);
        },
      );
    });
    expect(output).not.toContain('EBADENGINE');
    expect(output).toMatch(/added \d+ packages/);

    const { engines } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    const minimum = /^>=(\d+)\.(\d+)\.(\d+)$/.exec(engines.node);
    expect(minimum, `engines.node is a plain minimum: ${engines.node}`).not.toBeNull();
    const [major, minor, patch] = process.versions.node.split('.').map(Number);
    const atLeast = [major, minor, patch].map((part, i) => (part ?? 0) - Number(minimum?.[i + 1]));
    const firstDifference = atLeast.find((difference) => difference !== 0) ?? 0;
    expect(firstDifference, `Node ${process.versions.node} against ${engines.node}`).toBeGreaterThanOrEqual(
      0,
    );
  },
);
