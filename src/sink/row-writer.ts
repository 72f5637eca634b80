/**
 * The writes of intake: new rows with their intake tags (and their text, staged for the text
 * mover: text-mover.ts), and completions of rows written from the header block. It runs
 * where intake's writes are made: in the writer thread while the server runs
 * (writer-thread.ts), on the main thread while the index is reconciled at start, for
 * `mailwharf sink reindex`, and if the thread fails.
 */
import { isIndexBusy, type IndexDatabase } from './database.js';
import type { MessageIndex } from './message-index.js';
import type { Summary } from './summary.js';
import { addressTags, mergeTags, ruleTags, type IntakeTagging } from './tag-rules.js';

/** What became of one row of a group: written (with its intake tags), indexed already, or refused. */
export type InsertOutcome =
  | { readonly kind: 'inserted'; readonly tags: readonly string[] }
  | { readonly kind: 'present' }
  | { readonly kind: 'failed'; readonly error: string };

export class RowWriter {
  constructor(
    private readonly db: IndexDatabase,
    /** On `db` alone: tag rules are matched in the write's own transaction (staged text). */
    private readonly index: MessageIndex,
    private readonly tagging: IntakeTagging,
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
      if (isIndexBusy(error)) throw error;
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
    return this.db.transaction(() => {
      if (!this.index.complete(summary)) return false;
      this.tagByRules(summary.id);
      return true;
    });
  }

  /** Adds the tags of the rules this indexed message matches; returns them. */
  private tagByRules(id: string): string[] {
    const fromRules = ruleTags(this.tagging.rules, (condition) => this.index.matches(id, condition));
    if (fromRules.length > 0) this.index.addTags(id, fromRules);
    return fromRules;
  }
}
