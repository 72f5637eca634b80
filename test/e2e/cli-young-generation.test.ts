/**
 * The server started by the CLI keeps V8's young generation at 2 × 8 MiB semi-spaces, where
 * V8 alone grows it to 2 × 16 MiB under a steady load (issue #16: most of the peak RSS above a
 * bare smtp-server's). `node dist/src/cli.js`, as the Docker image starts it, with no node flag.
 *
 * The load is made inside the server process by a preload (NODE_OPTIONS=--import): on SIGUSR2
 * it allocates objects of which many survive a scavenge or two, yielding to the event loop as
 * a server does, and prints the new space's size. The same load with --max-semi-space-size=16
 * (which the CLI leaves alone: whoever starts node with it chose) shows that it does grow V8's
 * new space to 32 MiB, so the first case is no accident of a light load.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCliProcess, writeProcessConfig, type ServerProcess } from '../helpers/process.js';

const MiB = 1024 * 1024;

const PRELOAD = `
import v8 from 'node:v8';
const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
process.on('SIGUSR2', async () => {
  let kept = [];
  for (let i = 0; i < 5e6; i++) {
    kept.push({ i, text: 'x' + i });
    if (kept.length > 100000) kept = [];
    if (i % 10000 === 0) await new Promise((next) => setImmediate(next));
  }
  process.stdout.write(JSON.stringify({ probe: 'new-space', bytes: newSpace() }) + '\\n');
});
`;

let dir: string;
let preload: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailwharf-young-'));
  preload = join(dir, 'preload.mjs');
  await writeFile(preload, PRELOAD);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Starts the CLI with the preload (and `nodeFlags`), loads it, returns the new space's size. */
async function newSpaceUnderLoad(nodeFlags: string): Promise<number> {
  const config = await writeProcessConfig();
  let server: ServerProcess | undefined;
  try {
    server = await startCliProcess(
      ['--config', config.path],
      { env: { NODE_OPTIONS: `${nodeFlags} --import ${preload}`.trim() } },
      30_000,
    );
    const { child } = server;
    const reported = new Promise<number>((resolveSize, reject) => {
      let pending = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        pending += chunk.toString();
        const match = /\{"probe":"new-space","bytes":(\d+)\}/.exec(pending);
        if (match?.[1] !== undefined) resolveSize(Number(match[1]));
      });
      child.once('exit', () => {
        reject(new Error('the server exited before the preload reported'));
      });
    });
    child.kill('SIGUSR2');
    return await reported;
  } finally {
    server?.child.kill('SIGTERM');
    await server?.exited();
    await rm(config.root, { recursive: true, force: true });
  }
}

describe('the young generation of the server the CLI starts', () => {
  it('stays within 2 × 8 MiB under a load that grows it', { timeout: 120_000 }, async () => {
    expect(await newSpaceUnderLoad('')).toBeLessThanOrEqual(16 * MiB);
  });

  it(
    'is left to an explicit --max-semi-space-size, under which the same load grows it past that',
    {
      timeout: 120_000,
    },
    async () => {
      expect(await newSpaceUnderLoad('--max-semi-space-size=16')).toBeGreaterThan(16 * MiB);
    },
  );
});
