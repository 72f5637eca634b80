import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { makeDirectoryDurably, syncDirectory, syncFile } from './dir-sync.js';
import type { JournalFiles } from './journal-files.js';
import { listNames, segmentName, segmentNumber } from './journal-names.js';
import { isErrno } from '../util/errno.js';

/** A quarantine copy being made (JournalQuarantine.copy), until it is linked to its final name. */
const STAGED_QUARANTINE_FILE = /^\.journal-\d{10}\.[0-9a-f]+\.tmp$/;

/**
 * Copies of damaged journal segments in quarantine/, for an operator, and which damage each
 * copy was made for: one copy per damage found, never one per read that finds it again.
 */
export class JournalQuarantine {
  /**
   * The copy made for each bad record found so far (damageKey): damage found again (a read
   * with a stale location, the scrub after a read) names that copy and makes no other.
   */
  private readonly copies = new Map<string, string>();

  constructor(
    private readonly dir: string,
    private readonly files: JournalFiles,
    private readonly segmentPath: (segment: number) => string,
  ) {}

  /** Removes copies a kill left staged (a writer's open): the damage they were for is found again. */
  async removeStaged(): Promise<void> {
    for (const name of (await listNames(this.dir)).filter((n) => STAGED_QUARANTINE_FILE.test(n))) {
      await this.files.unlink(join(this.dir, name));
    }
  }

  /**
   * A durable copy of a damaged segment in quarantine/, for an operator; the copy's name
   * relative to the spool (quarantine/journal-NNNNNNNNNN.seg, or .1.seg, .2.seg… after it).
   * Never replaces an earlier copy: once open cuts the head at its damage, the first copy is
   * the only one of the records after it, and a later copy of the same segment (more damage,
   * found by a read or the scrub) holds the cut segment. So the copy is staged under a name of
   * its own, synced, then linked to the first free final name (link fails on one that exists).
   */
  async copy(segment: number): Promise<string> {
    await makeDirectoryDurably(this.files, this.dir);
    const staged = join(this.dir, `.journal-${segmentName(segment)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      // A private name: a leftover of a killed copy never stands in its way (see removeStaged).
      await this.files.copyFile(this.segmentPath(segment), staged);
      await syncFile(this.files, staged);
      for (let n = 0; ; n += 1) {
        const name = `journal-${segmentNumber(segment)}${n === 0 ? '' : `.${String(n)}`}.seg`;
        try {
          await this.files.link(staged, join(this.dir, name));
        } catch (error) {
          if (isErrno(error, 'EEXIST')) continue;
          throw error;
        }
        await syncDirectory(this.files, this.dir);
        return join('quarantine', name);
      }
    } finally {
      await this.files.unlink(staged).catch(() => undefined);
    }
  }

  /**
   * The copy of `segment` for the bad records starting at `at`: the one made when they were
   * found before, if all were (a read with a stale location finds the same damage again), or
   * a new one, named for each of them. One copy per damage found, never one per read of it.
   */
  async once(segment: number, at: readonly number[]): Promise<string> {
    const known = at.map((position) => this.copies.get(damageKey(segment, position)));
    const [first] = known;
    if (first !== undefined && known.every((copy) => copy !== undefined)) return first;
    const copy = await this.copy(segment);
    for (const position of at) this.remember(segment, position, copy);
    return copy;
  }

  /** Notes `copy` as the one made for the bad record at `at`. */
  private remember(segment: number, at: number, copy: string): void {
    this.copies.set(damageKey(segment, at), copy);
  }

  /** Whether a copy was made for the bad record at `at`. */
  has(segment: number, at: number): boolean {
    return this.copies.has(damageKey(segment, at));
  }

  /** The segment is gone (reclaimed): its damage can never be found again. */
  forget(segment: number): void {
    for (const key of this.copies.keys()) if (key.startsWith(`${String(segment)}:`)) this.copies.delete(key);
  }
}

/** The copies map's key: a bad record, by its segment and where its header starts. */
function damageKey(segment: number, at: number): string {
  return `${String(segment)}:${String(at)}`;
}
