import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isProcessAlive } from '../spool/lock.js';

const PREFIX = 'mailwharf-dev-';
/** Names the process that made a temporary dev directory, so a later run can tell it was abandoned. */
const OWNER_FILE = 'owner.pid';

/** Where `--dev` keeps things when no --spool / --certs-dir (or variable) says otherwise. */
export interface DevDirs {
  readonly spool: string;
  readonly certs: string;
  /** The temporary spool, removed on exit. */
  readonly temporary: string;
}

/**
 * A temporary spool, so `npx mailwharf --dev` writes nothing into the working directory (a CI
 * checkout) and keeps nothing across runs, as Mailpit does by default. The self-signed
 * certificate is kept in the XDG state directory, so clients that trust it keep working after
 * a restart; without a writable home it goes into the temporary directory too.
 */
export async function makeDevDirs(env: NodeJS.ProcessEnv = process.env): Promise<DevDirs> {
  await removeAbandonedDevDirs(tmpdir());
  const temporary = await mkdtemp(join(tmpdir(), PREFIX));
  await writeFile(join(temporary, OWNER_FILE), `${String(process.pid)}\n`);
  const stateHome = env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state');
  const certs = join(stateHome, 'mailwharf', 'certs');
  try {
    await mkdir(certs, { recursive: true, mode: 0o700 });
    return { spool: join(temporary, 'spool'), certs, temporary };
  } catch {
    return { spool: join(temporary, 'spool'), certs: join(temporary, 'certs'), temporary };
  }
}

/**
 * A dev server killed with SIGKILL (or by a CI runner's timeout) cannot remove its temporary
 * spool, and every run would leave one more behind. So each start removes the ones whose
 * owner no longer runs. Only directories of this user, with our prefix and an owner file
 * naming a dead process, are touched: a directory without the file (made by a server that is
 * starting right now, between mkdtemp and its write) is left alone.
 */
async function removeAbandonedDevDirs(root: string): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(root)).filter((name) => name.startsWith(PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(root, name);
    try {
      const info = await lstat(dir);
      if (!info.isDirectory() || (process.getuid !== undefined && info.uid !== process.getuid())) continue;
      const owner = Number((await readFile(join(dir, OWNER_FILE), 'utf8')).trim());
      // Our own pid in the file is an earlier life of this pid (a restarted container).
      if (owner !== process.pid && isProcessAlive(owner)) continue;
      await rm(dir, { recursive: true, force: true });
    } catch {
      // No owner file, or a race with another starter removing it: not ours to judge.
    }
  }
}
