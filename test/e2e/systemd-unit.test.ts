/**
 * contrib/systemd/mailwharf.service as an operator installs it: `systemd-analyze verify` finds
 * nothing to say (unknown keys, missing executables, bad syntax), and the unit says what the
 * README promises: its own user and state directory, low ports by capability for this
 * process only, reload on HUP, and no restart on exit 2 (a config error a restart cannot fix).
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const UNIT = resolve(import.meta.dirname, '../../contrib/systemd/mailwharf.service');
let dir = '';
afterAll(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** The [Service] section's settings, each key with every value it is given. */
function serviceSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const line of text.split('\n').map((raw) => raw.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1] ?? '';
      continue;
    }
    const eq = line.indexOf('=');
    if (section !== 'Service' || eq < 0) continue;
    const key = line.slice(0, eq);
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1)]);
  }
  return settings;
}

it('systemd-analyze verify accepts the unit without a warning', async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailwharf-systemd-'));
  const copy = join(dir, 'mailwharf.service');
  await copyFile(UNIT, copy);
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolveRun) => {
    execFile('systemd-analyze', ['verify', copy], { timeout: 20_000, cwd: dir }, (error, stdout, stderr) => {
      resolveRun({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
  expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
});

it('says what the README promises', async () => {
  const settings = serviceSettings(await readFile(UNIT, 'utf8'));
  const one = (key: string): string | undefined => settings.get(key)?.at(-1);
  expect(one('DynamicUser')).toBe('yes');
  expect(one('StateDirectory')?.split(' ')).toEqual(['mailwharf', 'mailwharf/spool', 'mailwharf/certs']);
  expect(settings.get('Environment')).toEqual([
    'MAILWHARF_SPOOL_DIR=%S/mailwharf/spool',
    'MAILWHARF_CERTS_DIR=%S/mailwharf/certs',
  ]);
  expect(one('AmbientCapabilities')).toBe('CAP_NET_BIND_SERVICE');
  expect(one('CapabilityBoundingSet')).toBe('CAP_NET_BIND_SERVICE');
  expect(one('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
  expect(one('Restart')).toBe('on-failure');
  // The CLI's exit code for a config error (test/e2e/config-errors.test.ts) is not restarted.
  expect(one('RestartPreventExitStatus')).toBe('2');
  expect(one('ExecStartPre')).toMatch(/mailwharf check-config --config /);
});
