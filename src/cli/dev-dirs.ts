import { mkdir, mkdtemp } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

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
  const temporary = await mkdtemp(join(tmpdir(), 'mailwharf-dev-'));
  const stateHome = env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state');
  const certs = join(stateHome, 'mailwharf', 'certs');
  try {
    await mkdir(certs, { recursive: true, mode: 0o700 });
    return { spool: join(temporary, 'spool'), certs, temporary };
  } catch {
    return { spool: join(temporary, 'spool'), certs: join(temporary, 'certs'), temporary };
  }
}
