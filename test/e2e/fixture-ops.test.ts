/**
 * The fixture as a user's test runner meets it: the README's example runs as is in a plain
 * Node 20 .mjs file under node --test, and a process that exits without stop() leaves no
 * temp directory behind.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
let project = '';
beforeAll(async () => {
  // A consumer project: `mailwharf` (this package, built) and nodemailer in its node_modules.
  project = await mkdtemp(join(tmpdir(), 'mailwharf-fixture-ops-'));
  await mkdir(join(project, 'node_modules'));
  await symlink(ROOT, join(project, 'node_modules', 'mailwharf'));
  await symlink(join(ROOT, 'node_modules', 'nodemailer'), join(project, 'node_modules', 'nodemailer'));
});
afterAll(async () => {
  if (project !== '') await rm(project, { recursive: true, force: true });
});

function node(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    execFile(process.execPath, args, { cwd: project, timeout: 30_000 }, (error, stdout, stderr) => {
      resolveRun({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

it("the README's fixture example runs in a plain .mjs file under node --test", async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## As a test fixture'));
  const example = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  expect(example).toContain('startMailwharf');
  await writeFile(join(project, 'welcome.test.mjs'), example ?? '');
  const result = await node(['--test', 'welcome.test.mjs']);
  expect(result.stdout + result.stderr).toMatch(/# pass 1/);
  expect(result.code).toBe(0);
});

it('a process that exits without stop() leaves no temp directory behind', async () => {
  await writeFile(
    join(project, 'forgets-stop.mjs'),
    `import { startMailwharf } from 'mailwharf';
const mail = await startMailwharf();
console.log(mail.server.config.spool.dir);
process.exit(0);
`,
  );
  const result = await node(['forgets-stop.mjs']);
  expect(result.code).toBe(0);
  const spool = result.stdout.trim();
  expect(spool).toMatch(/mailwharf-/);
  expect(existsSync(resolve(spool, '..'))).toBe(false);
});

it('waitForMessage gives up before a 5 s test timeout, listing what arrived', async () => {
  await writeFile(
    join(project, 'times-out.mjs'),
    `import { startMailwharf } from 'mailwharf';
const mail = await startMailwharf();
const started = Date.now();
try {
  await mail.waitForMessage({ subject: 'never' });
} catch (error) {
  console.log(JSON.stringify({ ms: Date.now() - started, message: String(error.message) }));
} finally {
  await mail.stop();
}
`,
  );
  const result = await node(['times-out.mjs']);
  const { ms, message } = JSON.parse(result.stdout) as { ms: number; message: string };
  expect(message).toContain('waitForMessage: no matching message within 4000 ms. Received:\n  (none)');
  expect(ms).toBeLessThan(5000);
});
