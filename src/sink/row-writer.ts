/**
 * The writes of intake: new rows with their intake tags, completions of rows written from the
 * header block, and the move of staged search text into the full-text tables, a moment later
 * and many rows at once. It runs where intake's writes are made: in the writer thread while
 * the server runs (writer-thread.ts), on the main thread while the index is reconciled at
 * start, for `mailwharf sink reindex`, and if the thread fails.
 */
import type { IndexDatabase } from './database.js';
import type { MessageIndex } from './message-index.js';
import type { Summary } from './summary.js';
import { addressTags, mergeTags, ruleTags, type IntakeTagging } from './tag-rules.js';

/** What became of one row of a group: written (with its intake tags), indexed already, or refused. */
export type InsertOutcome =
  | { readonly kind: 'inserted'; readonly tags: readonly string[] }
  | { readonly kind: 'present' }
  | { readonly kind: 'failed'; readonly error: string };

/**
 * Staged search text waits at most this long before it moves to the full-text tables...
 * A move costs a fixed part per transaction (FTS5 resumes its incremental merge: it seeks
 * every input segment again) besides its rows: on a copy of the 100,000-message index,
 * smtp-source's message cost 3.3 ms per row moved 18 at a time, 0.22 at 200. At 100 ms,
 * intake under load moved ~20 rows at a time and that was a fifth of the server's CPU.
 * Staged rows are searched where they are (instr()), so waiting longer changes no answer.
 */
const STAGED_TEXT_MS = 1000;
/** ...or until this many rows are staged. */
const STAGED_ROWS_AT_MOST = 500;

function isBusy(error: unknown): boolean {
  return error instanceof Error && 'code' in error && String(error.code).startsWith('SQLITE_BUSY');
}

export class RowWriter {
  private textMoveTimer: NodeJS.Timeout | undefined;
  /** A move due as soon as the writes being answered now are answered. */
  private moveSoon: NodeJS.Immediate | undefined;

  constructor(
    private readonly db: IndexDatabase,
    private readonly index: MessageIndex,
    private readonly tagging: IntakeTagging,
    /** A move of staged text failed (it stays searchable where it is; the next move retries). */
    private readonly onTextMoveError: (error: unknown) => void,
  ) {}

  /**
   * Writes a group of new rows in one transaction with their intake tags: those of its
   * addresses and AUTH user first, then those of the rules its row matches. If one row fails
   * it takes the group along, and the rows are written again each in a savepoint of its own,
   * so that only that one is refused.
   */
  insert(summaries: readonly Summary[]): InsertOutcome[] {
    let outcomes: InsertOutcome[];
    try {
      outcomes = this.insertTogether(summaries);
    } catch (error) {
      // The other connection held the lock for the whole wait: row by row would wait again.
      if (isBusy(error)) throw error;
      outcomes = this.db.transaction(() =>
        summaries.map((summary) => {
          try {
            return this.insertTogether([summary])[0] ?? { kind: 'present' };
          } catch (error) {
            return { kind: 'failed', error: String(error) };
          }
        }),
      );
    }
    this.scheduleTextMove();
    return outcomes;
  }

  /** One transaction without a savepoint per row; throws (writing none) if one fails. */
  private insertTogether(summaries: readonly Summary[]): InsertOutcome[] {
    const tagged = summaries.map((summary) => ({ ...summary, tags: addressTags(summary, this.tagging) }));
    const write = (): InsertOutcome[] =>
      this.index.insertAll(tagged).map((inserted, index) => {
        const row = tagged[index];
        if (!inserted || !row) return { kind: 'present' };
        // Without rules the rows are the only write: nothing more per message.
        if (this.tagging.rules.length === 0) return { kind: 'inserted', tags: row.tags };
        const fromRules = this.tagByRules(row.id);
        return { kind: 'inserted', tags: fromRules.length === 0 ? row.tags : mergeTags(row.tags, fromRules) };
      });
    return this.tagging.rules.length === 0 ? write() : this.db.transaction(write);
  }

  /**
   * Completes a row written from the header block with its full parse, and tags it by the
   * rules that look at the body, which could only match now. False if the row was gone or whole.
   */
  complete(summary: Summary): boolean {
    const completed = this.db.transaction(() => {
      if (!this.index.complete(summary)) return false;
      this.tagByRules(summary.id);
      return true;
    });
    if (completed) this.scheduleTextMove();
    return completed;
  }

  /** Adds the tags of the rules this indexed message matches; returns them. */
  private tagByRules(id: string): string[] {
    const fromRules = ruleTags(this.tagging.rules, (condition) => this.index.matches(id, condition));
    if (fromRules.length > 0) this.index.addTags(id, fromRules);
    return fromRules;
  }

  /**
   * Staged search text moves into the full-text table a moment later, many rows at once, and
   * never within the write that staged it, whose answer (its messages' 250s) would wait ~0.1-0.3 s
   * for a move of 500 rows under load. Under steady load the next group waits for the move
   * instead: the wait moves, it does not go. A move in slices of 100 rows, taking turns with
   * arriving rows, cost 0.67 ms per row against 0.27 for whole moves: not kept.
   */
  private scheduleTextMove(): void {
    if (this.moveSoon !== undefined) return;
    if (this.index.stagedRows() >= STAGED_ROWS_AT_MOST) {
      this.moveSoon = setImmediate(() => {
        this.moveStagedText();
      });
      this.moveSoon.unref();
      return;
    }
    if (this.textMoveTimer !== undefined) return;
    this.textMoveTimer = setTimeout(() => {
      this.moveStagedText();
    }, STAGED_TEXT_MS);
    this.textMoveTimer.unref();
  }

  /** Moves every staged row now, in one transaction; no move is left pending (so it also ends one). */
  moveStagedText(): void {
    clearTimeout(this.textMoveTimer);
    this.textMoveTimer = undefined;
    clearImmediate(this.moveSoon);
    this.moveSoon = undefined;
    try {
      this.index.moveStagedText();
    } catch (error) {
      this.onTextMoveError(error);
    }
  }
}
