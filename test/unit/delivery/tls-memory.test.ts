import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TlsMemory, tlsMemoryKey } from '../../../src/delivery/tls-memory.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
const memory = async (): Promise<{ memory: TlsMemory; dir: string }> => {
  const dir = await mkdtemp(join(tmpdir(), 'mailwharf-tls-memory-'));
  dirs.push(dir);
  return { memory: new TlsMemory(join(dir, 'tls')), dir: join(dir, 'tls') };
};
const at = new Date('2026-11-30T12:00:00Z');

describe('TlsMemory', () => {
  it('raises the level, never lowers it; another instance (a restart) reads it; forget removes it', async () => {
    const { memory: first, dir } = await memory();
    expect(await first.remember('a.test', 'plain', 'mx.a.test', at)).toBe(false);
    expect(await first.remember('A.test.', 'tls', 'mx.a.test', at)).toBe(true);
    expect(await first.remember('a.test', 'tls', 'mx.a.test', at)).toBe(false);
    expect(await first.remember('a.test', 'tls-verified', 'mx2.a.test', at)).toBe(true);
    expect(await first.remember('a.test', 'tls', 'mx.a.test', at)).toBe(false);
    const restarted = new TlsMemory(dir);
    expect(await restarted.recall('a.test')).toEqual({
      domain: 'a.test',
      level: 'tls-verified',
      host: 'mx2.a.test',
      seenAt: at.toISOString(),
    });
    expect(await readdir(dir)).toEqual(['a.test']); // no temp file left
    expect(await restarted.forget('a.test')).toBe(true);
    expect(await restarted.forget('a.test')).toBe(false);
    expect(await first.recall('a.test')).toBeUndefined();
  });

  it.each([
    ['example.com', 'example.com'],
    ['Bücher.example', 'xn--bcher-kva.example'], // why: IDN as its A-label
    ['../etc', undefined], // why: no name may leave the directory
    ['.hidden', undefined],
    ['a/b', undefined],
  ])('key of %s is %s', (domain, key) => {
    expect(tlsMemoryKey(domain)).toBe(key);
  });
});
