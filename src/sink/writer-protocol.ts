/** The messages between the sink and its index threads (writer-thread.ts, writer-worker.ts). */
import type { Config } from '../config/schema.js';
import type { InsertOutcome } from './row-writer.js';
import type { Summary } from './summary.js';
import type { MoveResult } from './text-mover.js';

export interface WriterSetup {
  /** The rows file (see text-file.ts for the text file beside it). */
  readonly path: string;
  /** The thread's one job: intake's rows, or the text mover's rounds. */
  readonly role: 'rows' | 'text';
  readonly tagging: Pick<Config['sink'], 'tagRules' | 'tagUsername' | 'plusAddressTags'>;
}

export type WriterRequest =
  | { readonly op: 'insert'; readonly id: number; readonly summaries: readonly Summary[] }
  | { readonly op: 'complete'; readonly id: number; readonly summary: Summary }
  | { readonly op: 'move'; readonly id: number }
  | { readonly op: 'close'; readonly id: number };

export type WriterReply =
  /** The thread has opened the index: writes can go to it. */
  | { readonly ready: true }
  | { readonly id: number; readonly outcomes: readonly InsertOutcome[] }
  | { readonly id: number; readonly completed: boolean }
  | { readonly id: number; readonly moved: MoveResult }
  | { readonly id: number; readonly closed: true }
  | { readonly id: number; readonly error: string }
  /** Not an answer: something the main thread should log. */
  | { readonly id?: undefined; readonly problem: string; readonly err: string };
