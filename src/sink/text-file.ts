/**
 * The index's full-text tables live in a file of their own, beside the rows (issue #10).
 * Moving staged text into FTS5 tables costs ~0.1-0.3 s for 500 rows, and SQLite has one
 * writer per file: in the rows' file, every move held up every 250 behind it (intake with the
 * index ran at ~60 % of the rate with HTTP off). In a file of its own, a move takes only that
 * file's lock, and new rows go on being written meanwhile.
 *
 * The two files are one index: the rows file names its text file (text_file.pair) and the
 * text file names itself the same (moved.pair). A text file that is missing, damaged, not
 * the rows file's pair, or that knows rows the rows file lost (see `lostRows`) makes the
 * whole index unusable, and it is rebuilt from the spool, as a damaged rows file is.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { CorruptIndexError, openDatabase, type IndexDatabase } from './database.js';
import { migrateText } from './migrations.js';

export const TEXT_FILE_SUFFIX = '-text';

/** The text file beside a rows file: sink.sqlite → sink-text.sqlite. */
export function textPathOf(rowsPath: string): string {
  return rowsPath.replace(/\.sqlite$/, `${TEXT_FILE_SUFFIX}.sqlite`);
}

export async function removeTextFile(rowsPath: string): Promise<void> {
  for (const suffix of ['', '-wal', '-shm']) await rm(`${textPathOf(rowsPath)}${suffix}`, { force: true });
}

interface Moved {
  readonly pair: string;
  readonly upto: number;
  readonly clears: number;
}

/**
 * Makes sure the rows file (open as `rows`) has its text file: a rows file that names none
 * (new, or just migrated from one file) gets a new one. Throws CorruptIndexError if the pair
 * is broken (the caller rebuilds both).
 */
export async function pairTextFile(rows: IndexDatabase, rowsPath: string): Promise<void> {
  const pair = rows.statement<{ pair: string | null }>('SELECT pair FROM text_file').get()?.pair ?? null;
  if (pair === null) {
    await removeTextFile(rowsPath);
    const text = openDatabase(textPathOf(rowsPath));
    try {
      migrateText(text);
      const name = randomUUID();
      text.statement('INSERT INTO moved (only, pair, upto, clears) VALUES (1, ?, 0, 0)').run(name);
      // Named in the rows file last: a crash before this makes a new text file next time.
      rows.statement('UPDATE text_file SET pair = ?').run(name);
    } finally {
      text.close();
    }
    return;
  }
  const text = openDatabase(textPathOf(rowsPath));
  try {
    if (text.userVersion() === 0) throw new CorruptIndexError('the text index file is missing');
    migrateText(text);
    const moved = text.statement<Moved>('SELECT pair, upto, clears FROM moved').get();
    if (moved?.pair !== pair)
      throw new CorruptIndexError('the text index file is not the pair of the rows file');
    const lost = lostRows(rows, moved);
    if (lost !== undefined) throw new CorruptIndexError(lost);
  } finally {
    text.close();
  }
}

/**
 * Why the rows file is behind its text file, if it is. Both are written without an fsync per
 * commit (see database.ts) except the text mover's, so a power cut may take the last commits
 * of the rows file and leave the text file knowing staged rows (or a clear) the rows file
 * no longer has. New rows would then be given stages the text file counts as moved.
 */
function lostRows(rows: IndexDatabase, moved: Moved): string | undefined {
  const staged =
    rows.statement<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'text_staging'").get()
      ?.seq ?? 0;
  if (staged < moved.upto)
    return `the rows file lost staged text the text file has (${String(staged)} < ${String(moved.upto)})`;
  const clears = rows.statement<{ clears: number }>('SELECT clears FROM text_file').get()?.clears ?? 0;
  if (clears < moved.clears) return 'the rows file lost a delete of every message';
  return undefined;
}

/** The rows file's connection for reads that search: the text file attached as `text`. */
export function attachText(db: IndexDatabase, rowsPath: string): void {
  db.statement('ATTACH DATABASE ? AS text').run(textPathOf(rowsPath));
}
