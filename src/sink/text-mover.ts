/**
 * Moves staged search text from the rows file into the text file's full-text tables (see
 * text-file.ts), in rounds. Intake stages a row's text in the rows file on the way to the
 * 250 (plain inserts), where searches find it by instr() until it moves: full-text inserts
 * committed per message cost ~4 times as much as the same committed per batch.
 *
 * A round, on a connection to the text file with the rows file attached as `rows`, both
 * synchronous = FULL (one fsync of each per round, ~1 a second):
 *  1. A short transaction of the rows file only: it forgets what earlier rounds moved (rows
 *     at or below `moved.upto`, and the deleted rows whose text is gone), and reads what this
 *     round will do: the last stage, the clear count, the deleted rows. Its synced commit
 *     makes every commit of the rows file before it durable, so step 2 never builds on rows
 *     state that a power cut could still take back (the other connections commit unsynced).
 *  2. A transaction that writes only the text file (its lock, never the rows file's): the
 *     staged rows of step 1 go in (replacing the text of a completed message), the text of
 *     the deleted rows goes out, and `upto` advances. A clear of the rows file (every message
 *     deleted) drops the tables first.
 * A crash between rounds leaves staged rows at or below `upto`: searches skip them, and the
 * next round forgets them. Searches read both files: the full-text tables, and the staged rows
 * above `upto`.
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

/** What step 1 read: the rows file's state as of its synced commit. */
interface Plan {
  readonly lastStage: number;
  readonly clears: number;
  readonly gone: readonly number[];
  /** Deleted rows were left for the next round. */
  readonly moreGone: boolean;
}

export class TextMover {
  /**
   * Deleted rows whose text the last round took out of the text file, to be forgotten in the
   * rows file by the next round's step 1 (lost with the mover, they are taken out again: a
   * delete of text that is not there costs a lookup).
   */
  private goneOut: number[] = [];

  constructor(
    /** The text file, with the rows file attached as `rows` (see openTextMover). */
    private readonly db: IndexDatabase,
  ) {}

  move(): MoveResult {
    const plan = this.plan();
    const result = this.db.snapshot(() => this.fill(plan));
    this.goneOut = [...plan.gone];
    return result;
  }

  /** Step 1: the rows file's write lock only, and a synced commit. */
  private plan(): Plan {
    return this.db.snapshot(() => {
      // A write first, to the rows file: its lock is taken (waiting as long as the connection
      // allows) before anything is read, and the commit has a page to sync even when nothing
      // else changes. A transaction that read first could not wait for the lock.
      this.db.statement('UPDATE rows.text_file SET clears = clears').run();
      const upto = this.state().upto;
      this.db.statement('DELETE FROM rows.text_staging WHERE stage <= ?').run(upto);
      for (const seq of this.goneOut) this.db.statement('DELETE FROM rows.text_gone WHERE seq = ?').run(seq);
      this.goneOut = [];
      const gone = this.db
        .statement<{ seq: number }>('SELECT seq FROM rows.text_gone ORDER BY seq LIMIT ?')
        .all(GONE_PER_ROUND + 1)
        .map((row) => row.seq);
      return {
        lastStage:
          this.db
            .statement<{ seq: number }>("SELECT seq FROM rows.sqlite_sequence WHERE name = 'text_staging'")
            .get()?.seq ?? 0,
        clears: this.db.statement<{ clears: number }>('SELECT clears FROM rows.text_file').get()?.clears ?? 0,
        gone: gone.slice(0, GONE_PER_ROUND),
        moreGone: gone.length > GONE_PER_ROUND,
      };
    });
  }

  private state(): { upto: number; clears: number } {
    const state = this.db.statement<{ upto: number; clears: number }>('SELECT upto, clears FROM moved').get();
    if (state === undefined) throw new Error('the text index file has no state');
    return state;
  }

  /** Step 2, in a transaction that reads the rows file and writes only the text file. */
  private fill(plan: Plan): MoveResult {
    // A write first, as in step 1, to the text file.
    this.db.statement('UPDATE moved SET upto = upto').run();
    const state = this.state();
    if (plan.clears !== state.clears) {
      // Every row was deleted: what the tables hold is all dead (rows staged since are above upto).
      this.db.exec(`DROP TABLE search_text; DROP TABLE header_text;
        ${SEARCH_TEXT_TABLE}; ${HEADER_TEXT_TABLE}; ${TEXT_MERGE_SETTINGS}`);
      this.db.statement('UPDATE moved SET clears = ?').run(plan.clears);
    }
    // Rows staged after step 1 wait for the next round: their commits may not be durable yet.
    const upto =
      this.db
        .statement<{ upto: number | null }>(
          `SELECT max(stage) AS upto FROM (SELECT stage FROM rows.text_staging
            WHERE stage > ? AND stage <= ? ORDER BY stage LIMIT ?)`,
        )
        .get(state.upto, plan.lastStage, ROWS_PER_ROUND)?.upto ?? state.upto;
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
    for (const seq of plan.gone) {
      this.db.statement('DELETE FROM search_text WHERE rowid = ?').run(seq);
      this.db.statement('DELETE FROM header_text WHERE rowid = ?').run(seq);
    }
    // Only what step 1 saw and this round left: rows staged since are told to the scheduler
    // by their writes, and a round for each few of them would cost its fixed part each time.
    const left = this.db
      .statement('SELECT 1 FROM rows.text_staging WHERE stage > ? AND stage <= ? LIMIT 1')
      .get(upto, plan.lastStage);
    return { moved, gone: plan.gone.length, more: left !== undefined || plan.moreGone };
  }

  /** Rounds until nothing is left, then forgets what they moved (reindex, and tests). */
  moveAll(): void {
    while (this.move().more);
    this.plan();
  }

  close(): void {
    this.db.close();
  }
}

/**
 * A mover's own connection. It syncs its commits to both files (see the round above); a
 * thread's waits long for a lock (it blocks no one while it waits).
 */
export function openTextMover(rowsPath: string, busyWaitMs?: number): TextMover {
  const db = openDatabase(textPathOf(rowsPath), busyWaitMs === undefined ? {} : { busyWaitMs });
  try {
    db.statement('ATTACH DATABASE ? AS rows').run(rowsPath);
    db.exec('PRAGMA main.synchronous = FULL; PRAGMA rows.synchronous = FULL');
  } catch (error) {
    db.close();
    throw error;
  }
  return new TextMover(db);
}
