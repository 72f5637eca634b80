#!/usr/bin/env node
// Replaces tsc's dist/src/cli.js with one bundle of the CLI and the packages it loads, split
// at the CLI's own `await import()`s, so a start still loads only what its config uses.
// Why: on Node 20 (no module compile cache) most of a start was the ES module loader resolving,
// reading and linking ~900 files one by one (fastify, ajv, zod, yaml, prom-client, our own);
// the bundle reads ~30 files and took start-to-ready CPU from ~1.2 s to ~0.75 s (issue #10).
// The rest of dist/src stays tsc's, file for file: `startMailwharf()` (dist/src/index.js) and
// whoever imports a module by its path load those, never the bundle.
import { chmod, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const outdir = join(root, 'dist', 'src');

// Left as imports from node_modules: native addons found by path (better-sqlite3, sharp);
// pino, whose transports start worker threads from its own files (pino-pretty with --dev);
// selfsigned, a CommonJS module we import() for a named export, which a split chunk would
// offer only as `default` (it is loaded only to make a certificate, never on a warm start);
// ws's optional native helpers, which it tries to require and does without; fastify's
// default schema compilers (ajv, fast-json-stringify: half of the HTTP chunk), never loaded
// because src/http/server.ts gives it its own (no route has a JSON schema).
const external = [
  'better-sqlite3',
  'sharp',
  'pino',
  'pino-pretty',
  'thread-stream',
  'selfsigned',
  'bufferutil',
  'utf-8-validate',
  '@fastify/ajv-compiler',
  '@fastify/fast-json-stringify-compiler',
];

await rm(join(outdir, 'cli-chunks'), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  // The sink's writer thread loads its script from beside the module that starts it
  // (src/sink/writer-thread.ts), which the bundle puts in a chunk: the script goes there too.
  entryPoints: { cli: 'src/cli.ts', 'cli-chunks/writer-worker': 'src/sink/writer-worker.ts' },
  outdir,
  chunkNames: 'cli-chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external,
  // The CommonJS packages inside (smtp-server, fastify…) call require(): give them Node's.
  banner: {
    js: "import { createRequire as __mailwharfCreateRequire } from 'node:module'; const require = __mailwharfCreateRequire(import.meta.url);",
  },
  // Stack traces map back to src/*.ts and node_modules with --enable-source-maps; the
  // sources themselves are not copied in (they would add megabytes to the package).
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'warning',
});
await chmod(join(outdir, 'cli.js'), 0o755);
