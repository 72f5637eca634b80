import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

/** Value imports (`import … from`, `export … from`; not `import type`, not `await import()`). */
const STATIC_IMPORT = /^(?:import|export)\s+(?!type\s)(?:[^;'"]*?\sfrom\s+)?'([^']+)';/gm;

/** Every module a file loads before its first line runs: its static imports, transitively. */
function staticGraph(...entries: string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    if (!file.startsWith(SRC)) return;
    for (const [, specifier = ''] of readFileSync(file, 'utf8').matchAll(STATIC_IMPORT)) {
      if (specifier.startsWith('.')) visit(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else seen.add(specifier);
    }
  };
  for (const entry of entries) visit(entry);
  return seen;
}

// Every `mailwharf` process pays for what cli.ts loads statically. The sink index (SQLite,
// mailparser, html-to-text) is ~20 MiB a relay or a headless capture server never uses: it
// is loaded by the server only with the UI or capture, and by its CLI command when run.
describe('what the server process loads at start', () => {
  // `serve` is imported by cli.ts when it runs, so the server process loads both.
  const graph = staticGraph(join(SRC, 'cli.ts'), join(SRC, 'cli/serve.ts'));

  it.each([
    ['src/sink/ (the captured-mail index)', (m: string) => m.startsWith(join(SRC, 'sink') + '/')],
    ['better-sqlite3', (m: string) => m === 'better-sqlite3'],
    ['mailparser', (m: string) => m === 'mailparser'],
    ['the HTTP stack', (m: string) => m.startsWith(join(SRC, 'http') + '/') || m === 'fastify'],
    // Inbound authentication and DKIM signing load it when a policy or a key asks for it.
    ['mailauth', (m: string) => m === 'mailauth' || m.startsWith('mailauth/')],
  ])('the server does not import %s statically', (_what, matches) => {
    expect([...graph].filter(matches)).toEqual([]);
  });

  it('the walk follows imports (it finds the session adapter and smtp-server)', () => {
    expect(graph).toContain(join(SRC, 'smtp/session.ts'));
    expect(graph).toContain('smtp-server');
  });
});
