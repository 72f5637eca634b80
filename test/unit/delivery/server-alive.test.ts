import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spoolServerAlive } from '../../../src/delivery/server-alive.js';

/** "Is a server running on this spool?" from the spool lock, as the queue CLI asks it. */
describe('spoolServerAlive', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  async function spoolLockedBy(text: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'mailwharf-alive-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'lock'), text);
    return dir;
  }

  /** A shell whose background child exits unreaped (a zombie) while the shell, exec'd into sleep, lives. */
  async function zombie(): Promise<{ zombiePid: number; parentPid: number }> {
    const child = spawn('/bin/sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    cleanups.push(async () => {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    });
    const pid = await new Promise<number>((resolve) =>
      child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))),
    );
    return { zombiePid: pid, parentPid: child.pid ?? 0 };
  }

  it('no lock: not running', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailwharf-alive-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    expect(await spoolServerAlive(dir)).toBe(false);
  });

  it('a live process of this host: running', async () => {
    const { parentPid } = await zombie();
    expect(await spoolServerAlive(await spoolLockedBy(`${String(parentPid)} ${hostname()}\n`))).toBe(true);
  });

  it('a zombie (killed, not yet reaped) is not a running server, though kill(pid, 0) succeeds', async () => {
    const { zombiePid } = await zombie();
    // Wait (bounded) until the background child has exited and become a zombie.
    const deadline = Date.now() + 5000;
    for (;;) {
      const stat = await readFile(`/proc/${String(zombiePid)}/stat`, 'utf8');
      if (/\) Z /.test(stat)) break;
      if (Date.now() > deadline) throw new Error('no zombie');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(() => process.kill(zombiePid, 0)).not.toThrow();
    expect(await spoolServerAlive(await spoolLockedBy(`${String(zombiePid)} ${hostname()}\n`))).toBe(false);
  });

  it('a pid that does not exist: not running', async () => {
    expect(await spoolServerAlive(await spoolLockedBy(`999999999 ${hostname()}\n`))).toBe(false);
  });
});
