import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SPAMD = '/usr/sbin/spamd';
export const spamdInstalled = existsSync(SPAMD);

export interface Spamd {
  /** "127.0.0.1:PORT" for checks.spamassassin. */
  readonly address: string;
  stop(): Promise<void>;
}

/** A free loopback port: spamd cannot report the port it got for port 0. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => {
        resolve(port);
      });
    });
  });
}

/**
 * Starts Debian's spamd on loopback with a private home dir, no user configs and no network
 * tests (--local), one child; resolves once it logs "server started".
 */
export async function startSpamd(timeoutMs = 90_000): Promise<Spamd> {
  const home = await mkdtemp(join(tmpdir(), 'mailwharf-spamd-'));
  // spamd drops root to nobody, which must be able to use the home dir.
  await chmod(home, 0o777);
  const port = await freePort();
  const child = spawn(
    SPAMD,
    [
      `--listen=127.0.0.1:${String(port)}`,
      `--helper-home-dir=${home}`,
      `--pidfile=${join(home, 'spamd.pid')}`,
      '--nouser-config',
      '--local',
      '--max-children=1',
      '--syslog=stderr',
      ...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let log = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`spamd not ready within ${String(timeoutMs)} ms:\n${log}`));
      }, timeoutMs);
      child.stderr.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('server started')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`spamd exited before ready:\n${log}`));
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    await rm(home, { recursive: true, force: true });
    throw error;
  }
  return {
    address: `127.0.0.1:${String(port)}`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await rm(home, { recursive: true, force: true });
    },
  };
}
