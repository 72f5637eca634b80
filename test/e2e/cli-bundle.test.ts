/**
 * The built CLI is one bundle split into chunks (scripts/bundle-cli.mjs): a start reads a few
 * dozen files instead of resolving ~900 modules one by one. These check the build's shape, so
 * a change that quietly falls back to loading node_modules file by file is seen; the tests
 * that spawn dist/src/cli.js check that it works.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../helpers/process.js';

const CHUNKS = join(dirname(CLI), 'cli-chunks');
/** What the bundle leaves in node_modules on purpose (see scripts/bundle-cli.mjs). */
const EXTERNAL = new Set([
  ...['better-sqlite3', 'sharp', 'pino', 'pino-pretty', 'thread-stream', 'selfsigned'],
  ...['bufferutil', 'utf-8-validate', '@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler'],
]);
/** Node's own modules, which bundled CommonJS code names without node: (require("fs")). */
const BUILTINS = new Set(builtinModules);

function bundleFiles(): string[] {
  return [CLI, ...readdirSync(CHUNKS).map((name) => join(CHUNKS, name))].filter((file) =>
    file.endsWith('.js'),
  );
}

/** Module specifiers a file loads: its import statements, `import("…")` and `__require("…")`. */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const patterns = [
    /^(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)";/gm,
    /^import\s*"([^"]+)";/gm,
    /\bimport\("([^"]+)"\)/g,
    /\b__require\("([^"]+)"\)/g,
  ];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map(([, specifier = '']) => specifier));
}

describe('the built CLI (dist/src/cli.js)', () => {
  it('loads its own chunks and, from node_modules, only the packages left out on purpose', () => {
    const named = bundleFiles().flatMap(specifiers);
    const relative = named.filter((specifier) => specifier.startsWith('.'));
    const packages = new Set(
      named
        .filter((specifier) => !specifier.startsWith('.') && !specifier.startsWith('node:'))
        .map((specifier) =>
          specifier
            .split('/')
            .slice(0, specifier.startsWith('@') ? 2 : 1)
            .join('/'),
        ),
    );
    expect(relative.length).toBeGreaterThan(0);
    // Never tsc's per-file output beside it (../config/…): that would be a second copy of a module.
    expect(relative.filter((specifier) => !/^\.\/(cli-chunks\/)?[\w-]+\.js$/.test(specifier))).toEqual([]);
    expect([...packages].filter((name) => !EXTERNAL.has(name) && !BUILTINS.has(name))).toEqual([]);
  });

  it('keeps fastify, zod and smtp-server inside the chunks', () => {
    const text = bundleFiles()
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n');
    for (const path of [
      'node_modules/fastify/fastify.js',
      'node_modules/smtp-server/',
      'node_modules/zod/',
    ]) {
      expect(text).toContain(path);
    }
  });

  it('links a source map that leads back to src/cli.ts', () => {
    expect(readFileSync(CLI, 'utf8')).toMatch(/\/\/# sourceMappingURL=cli\.js\.map\s*$/);
    const map = JSON.parse(readFileSync(`${CLI}.map`, 'utf8')) as { sources: string[] };
    const sources = map.sources.map((source) => resolve(dirname(CLI), source));
    expect(sources).toContain(resolve(import.meta.dirname, '../../src/cli.ts'));
  });
});
