// Removes dist/src and dist/ui before a build, so files whose source is gone are never shipped.
import { rmSync } from 'node:fs';

for (const dir of ['../dist/src', '../dist/ui']) {
  rmSync(new URL(dir, import.meta.url), { recursive: true, force: true });
}
