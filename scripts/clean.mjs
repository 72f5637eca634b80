// Removes dist/src before a build, so files whose source is gone are never shipped.
import { rmSync } from 'node:fs';

rmSync(new URL('../dist/src', import.meta.url), { recursive: true, force: true });
