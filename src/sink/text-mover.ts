/**
 * Moves staged search text from the rows file into the text file's full-text tables (see
 * text-file.ts), in rounds. Intake stages a row's text in the rows file on the way to the
 * 250 (plain inserts), where searches find it by instr() until it moves: full-text inserts
 * committed per message cost ~4 times as much as the same committed per batch.
 *
 * A round, on a connection to the text file with the rows file attached as `rows`:
 *  1. One transaction that writes only the text file (its lock, not the rows file's): the
 *     staged rows after `moved.upto` go in (replacing the text of a completed message), the
 *     text of deleted messages (text_gone) goes out, and `upto` advances. A clear of the
 *     rows file (every message deleted) drops the tables first. It is synced: what step 2
 *     forgets must not be lost with a power cut.
 *  2. A short transaction of the rows file forgets what step 1 moved. A crash in between
 *     leaves staged rows at or below `upto`, which searches skip and the next round forgets.
 * Searches read both files: the full-text tables, and the staged rows above `upto`.
 */
import type { IndexDatabase } from './database.js';
import { openDatabase } from './database.js';
import { HEADER_COLUMNS, HEADER_TEXT_TABLE, SEARCH_TEXT_TABLE, TEXT_MERGE_SETTINGS } from './migrations.js';
import { textPathOf } from './text-file.js';

/**
 * Rows moved in one round at most. A move costs a fixed part per transaction (FTS5 resumes
 * its incremental merge) besides ~0.2-0.3 ms per row; a bounded round keeps a backlog (an
 * index migrated from one file stages every row) from holding the text file's lock and the
 * mover's memory for long.
 */
const ROWS_PER_ROUND = 2000;
/** Deleted messages whose text leaves in one round at most (each costs about an insert). */
const GONE_PER_ROUND = 1000;

export interface MoveResult {
  readonly moved: number;
  readonly gone: number;
  /** More is staged or gone than one round took: move again soon. */
  readonly more: boolean;
}

interface Round extends MoveResult {
  readonly upto: number;
  readonly goneSeqs: readonly number[];
  /** Rows at or below `upto` are still staged (moved by a round cut short before step 2). */
  readonly forget: boolean;
}

export class TextMover {
  constructor(
    /** The text file, with the rows file attached as `rows` (see openTextMover). */
    private readonly db: IndexDatabase,
  ) {}

  move(): MoveResult {
    const round = this.db.snapshot(() => this.fill());
    if (round.forget || round.goneSeqs.length > 0) {
      this.db.transaction(() => {
        this.db.statement('DELETE FROM rows.text_staging WHERE stage <= ?').run(round.upto);
        for (const seq of round.goneSeqs)
          this.db.statement('DELETE FROM rows.text_gone WHERE seq = ?').run(seq);
      });
    }
    return { moved: round.moved, gone: round.gone, more: round.more };
  }

  /** Step 1, in a transaction that reads the rows file and writes only the text file. */
  private fill(): Round {
    // A write first: the text file's lock is taken (waiting for it as long as the connection
    // allows) before anything is read. A transaction that read first could not wait for it.
    this.db.statement('UPDATE moved SET upto = upto').run();
    const state = this.db.statement<{ upto: number; clears: number }>('SELECT upto, clears FROM moved').get();
    if (state === undefined) throw new Error('the text index file has no state');
    const clears =
      this.db.statement<{ clears: number }>('SELECT clears FROM rows.text_file').get()?.clears ?? 0;
    if (clears !== state.clears) {
      // Every row was deleted: what the tables hold is all dead (rows staged since are above upto).
      this.db.exec(`DROP TABLE search_text; DROP TABLE header_text;
        ${SEARCH_TEXT_TABLE}; ${HEADER_TEXT_TABLE}; ${TEXT_MERGE_SETTINGS}`);
      this.db.statement('UPDATE moved SET clears = ?').run(clears);
    }
    const upto =
      this.db
        .statement<{ upto: number | null }>(
          'SELECT max(stage) AS upto FROM (SELECT stage FROM rows.text_staging WHERE stage > ? ORDER BY stage LIMIT ?)',
        )
        .get(state.upto, ROWS_PER_ROUND)?.upto ?? state.upto;
    let moved = 0;
    if (upto > state.upto) {
      // OR REPLACE: a completed message's text replaces what its header block gave.
      moved = this.db
        .statement(
          'INSERT OR REPLACE INTO search_text (rowid, text) SELECT seq, text FROM rows.text_staging WHERE stage > ? AND stage <= ?',
        )
        .run(state.upto, upto).changes;
      this.db
        .statement(
          `INSERT OR REPLACE INTO header_text (rowid, ${HEADER_COLUMNS.join(', ')})
            SELECT seq, ${HEADER_COLUMNS.join(', ')} FROM rows.text_staging WHERE stage > ? AND stage <= ?`,
        )
        .run(state.upto, upto);
      this.db.statement('UPDATE moved SET upto = ?').run(upto);
    }
    const goneSeqs = this.db
      .statement<{ seq: number }>('SELECT seq FROM rows.text_gone ORDER BY seq LIMIT ?')
      .all(GONE_PER_ROUND)
      .map((row) => row.seq);
    for (const seq of goneSeqs) {
      this.db.statement('DELETE FROM search_text WHERE rowid = ?').run(seq);
      this.db.statement('DELETE FROM header_text WHERE rowid = ?').run(seq);
    }
    const stagedAbove = this.db
      .statement('SELECT 1 FROM rows.text_staging WHERE stage > ? LIMIT 1')
      .get(upto);
    const forget = this.db.statement('SELECT 1 FROM rows.text_staging WHERE stage <= ? LIMIT 1').get(upto);
    return {
      upto,
      moved,
      gone: goneSeqs.length,
      goneSeqs,
      forget: forget !== undefined,
      more: stagedAbove !== undefined || goneSeqs.length === GONE_PER_ROUND,
    };
  }

  /** Rounds until nothing is left (reindex, and tests). */
  moveAll(): void {
    while (this.move().more);
  }

  close(): void {
    this.db.close();
  }
}

/**
 * A mover's own connection. It waits long for a lock (it blocks no one while it waits), and
 * syncs its commits (see step 1 above).
 */
export function openTextMover(rowsPath: string, busyWaitMs?: number): TextMover {
  const db = openDatabase(textPathOf(rowsPath), busyWaitMs === undefined ? {} : { busyWaitMs });
  try {
    db.exec('PRAGMA main.synchronous = FULL');
    db.statement('ATTACH DATABASE ? AS rows').run(rowsPath);
  } catch (error) {
    db.close();
    throw error;
  }
  return new TextMover(db);
}
