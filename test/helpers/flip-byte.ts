import { open, readFile } from 'node:fs/promises';

/**
 * Flips one bit of the byte `skip` bytes after the first occurrence of `marker` in a file, as a
 * failing disk would; throws if the marker is not there.
 */
export async function flipByteOf(path: string, marker: string, skip = 0): Promise<void> {
  const found = (await readFile(path)).indexOf(marker);
  if (found < 0) throw new Error(`${marker} not found in ${path}`);
  const handle = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, found + skip);
    byte[0] = (byte[0] ?? 0) ^ 0x20;
    await handle.write(byte, 0, 1, found + skip);
  } finally {
    await handle.close();
  }
}
