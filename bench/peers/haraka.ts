/**
 * Haraka from npm with a disk queue: a throw-away directory made by `haraka -i`, listening
 * on 127.0.0.1, plugins rcpt_to.in_host_list (host_list: bench.test) and the bench's own
 * queue_fsync (bench/peers/haraka-queue-fsync.js: file, fdatasync, directory fsync, OK).
 * Single process (smtp.ini `nodes` unset), so the measured PID is the server.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HARAKA_BIN, HARAKA_PLUGIN } from '../paths.js';
import { freePort, launch, waitForPort } from '../proc.js';
import { countFiles, tempDir } from './files.js';
import type { Peer } from './peer.js';

const run = promisify(execFile);

export const harakaPeer: Peer = {
  name: 'haraka',
  description:
    '`haraka -c DIR` (Haraka 3.3.4 from npm, `haraka -i DIR`), single process, listen 127.0.0.1:PORT, ' +
    'log level warn, plugins rcpt_to.in_host_list + queue_fsync (bench/peers/haraka-queue-fsync.js: ' +
    'message streamed to a file, fdatasync, directory fsync, then OK)',
  async start() {
    const root = await tempDir('haraka');
    const dir = join(root, 'haraka');
    const queue = join(root, 'queue-fsync');
    await run(process.execPath, [HARAKA_BIN, '-i', dir], { timeout: 30_000 });
    await mkdir(queue);
    const port = await freePort();
    const config = (name: string, text: string): Promise<void> => writeFile(join(dir, 'config', name), text);
    await config('smtp.ini', `listen=127.0.0.1:${port}\n`);
    await config('log.ini', '[main]\nlevel=warn\n');
    await config('plugins', 'rcpt_to.in_host_list\nqueue_fsync\n');
    await config('host_list', 'bench.test\n');
    await config('me', 'haraka.bench.test\n');
    await copyFile(HARAKA_PLUGIN, join(dir, 'plugins', 'queue_fsync.js'));
    const child = launch(process.execPath, [HARAKA_BIN, '-c', dir], { env: { BENCH_HARAKA_QUEUE: queue } });
    await waitForPort(port, child, 'haraka');
    return {
      port,
      pid: child.pid,
      stored: () => countFiles(queue, /\.eml$/),
      async stop() {
        await child.stop();
        await rm(root, { recursive: true, force: true });
      },
    };
  },
};
