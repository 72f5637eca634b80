/**
 * When the text mover runs (text-mover.ts): a while after text is staged, or at once when
 * much is; one round at a time, and again at once while a round leaves more behind. Staged
 * rows are searched where they are (instr()), so waiting changes no answer, only what a
 * search scans.
 */
import type { Logger } from 'pino';
import type { MoveResult } from './text-mover.js';

/**
 * Staged text waits at most this long before it moves... A round costs a fixed part per
 * transaction (FTS5 resumes its incremental merge: it seeks every input segment again)
 * besides its rows: on a copy of the 100,000-message index, smtp-source's message cost 3.3 ms
 * per row moved 18 at a time, 0.22 at 200.
 */
const STAGED_TEXT_MS = 1000;
/** ...or until this many rows are staged (or deleted: their text leaves in the same rounds). */
const STAGED_ROWS_AT_MOST = 500;
/** A round that failed is tried again after this, doubled at each failure in a row. */
const RETRY_MS = 1000;
const RETRY_MS_AT_MOST = 60_000;

export interface TextMoving {
  move(): Promise<MoveResult>;
  /** Resolves once a round would not wait for a thread to start. */
  ready(): Promise<unknown>;
}

export class TextMoves {
  private staged = 0;
  private timer: NodeJS.Timeout | undefined;
  private moving: Promise<void> | undefined;
  private closed = false;
  /** Rounds failed in a row (a damaged text file fails every one: not once a second). */
  private failures = 0;

  constructor(
    /** Where rounds are made (asked at each round: a thread may start or fail meanwhile). */
    private readonly mover: () => TextMoving,
    private readonly log: Logger,
  ) {}

  /** Rows staged, or deleted, since the last round. */
  note(rows: number): void {
    if (this.closed || rows <= 0) return;
    this.staged += rows;
    this.schedule();
  }

  private schedule(): void {
    // A round under way looks again as it ends.
    if (this.closed || this.moving !== undefined || this.staged === 0) return;
    if (this.staged >= STAGED_ROWS_AT_MOST && this.failures === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.round();
      return;
    }
    if (this.timer !== undefined) return;
    const wait =
      this.failures === 0 ? STAGED_TEXT_MS : Math.min(RETRY_MS * 2 ** this.failures, RETRY_MS_AT_MOST);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.round();
    }, wait);
    this.timer.unref();
  }

  private round(): void {
    this.staged = 0;
    const mover = this.mover();
    this.moving = mover
      .ready()
      .then(() => mover.move())
      .then(
        (result) => {
          this.failures = 0;
          if (result.more) this.staged += STAGED_ROWS_AT_MOST;
          // A round forgets in the rows file what the round before it moved: one more, a
          // while later, leaves nothing behind once mail stops.
          else if (result.moved + result.gone > 0) this.staged += 1;
        },
        (error: unknown) => {
          // Still searchable where it is; a round later tries again.
          this.failures++;
          this.log.error(
            { err: String(error), failures: this.failures },
            'could not move staged search text',
          );
          this.staged += 1;
        },
      )
      .finally(() => {
        this.moving = undefined;
        this.schedule();
      });
  }

  /** No round starts from now on; resolves once the one under way has ended. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.moving;
  }
}
