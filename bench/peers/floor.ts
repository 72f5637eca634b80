/** The floor: bench/peers/floor.mjs, a bare smtp-server that fsyncs file and directory. */
import { rm } from 'node:fs/promises';
import { FLOOR_SCRIPT } from '../paths.js';
import { launch, waitForLine } from '../proc.js';
import { countFiles, tempDir } from './files.js';
import type { Peer } from './peer.js';

function portLine(line: string): number | undefined {
  const match = /^\{"port":(\d+)\}$/.exec(line.trim());
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export const floorPeer: Peer = {
  name: 'floor',
  description:
    '`node bench/peers/floor.mjs DIR`: smtp-server 3.21.6 with library defaults (100 ms greeting pause), ' +
    'each message streamed to a file, fdatasync of the file and fsync of the directory before 250',
  async start() {
    const dir = await tempDir('floor');
    const child = launch(process.execPath, [FLOOR_SCRIPT, dir]);
    const port = await waitForLine(child, portLine, 'floor');
    return {
      port,
      pid: child.pid,
      stored: () => countFiles(dir, /\.eml$/),
      async stop() {
        await child.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

/** The same script with --no-disk: smtp-server reading each message and storing nothing. */
export const noDiskPeer: Peer = {
  name: 'smtp-server',
  description:
    '`node bench/peers/floor.mjs --no-disk`: the same bare smtp-server 3.21.6 reading each message and ' +
    'answering 250 with nothing stored: the most any server built on smtp-server reaches on this machine',
  async start() {
    const child = launch(process.execPath, [FLOOR_SCRIPT, '--no-disk']);
    const port = await waitForLine(child, portLine, 'smtp-server');
    return {
      port,
      pid: child.pid,
      stored: () => Promise.resolve(undefined),
      stop: () => child.stop(),
    };
  },
};
