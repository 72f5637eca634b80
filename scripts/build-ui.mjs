// Copies the web UI's static files (everything in ui/ that is not TypeScript source) into
// dist/ui, beside the modules tsc -p tsconfig.ui.json compiled there.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';

const from = new URL('../ui/', import.meta.url);
const to = new URL('../dist/ui/', import.meta.url);
mkdirSync(to, { recursive: true });
for (const entry of readdirSync(from, { withFileTypes: true })) {
  if (entry.isFile()) copyFileSync(new URL(entry.name, from), new URL(entry.name, to));
}
