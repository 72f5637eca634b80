import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const tempDir = (name: string): Promise<string> => mkdtemp(join(tmpdir(), `mailwharf-bench-${name}-`));

/** Files in `dir` whose names match. */
export async function countFiles(dir: string, pattern: RegExp): Promise<number> {
  return (await readdir(dir)).filter((name) => pattern.test(name)).length;
}
