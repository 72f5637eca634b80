/**
 * The index's writes on threads of their own: intake's rows on one, the text mover's rounds
 * on the other (text-mover.ts; its file is its own, see text-file.ts). With the index on,
 * intake was bound by the main thread: SMTP, parsing and HTTP ran there, and so did each
 * group of new rows, their tags and the move of their search text into the full-text
 * tables, nearly as much again (issue #10: ~55 % of the rate with HTTP off, on one of two
 * cores). The rows thread commits a group and answers; the group's 250s wait for that
 * answer, and from then on the main thread's own connection sees the rows (in WAL mode a
 * read begun after a commit sees it).
 *
 * Until the thread is up, and if it fails, writes are made on the main thread: those it had
 * not answered are made again there (a row written twice is found present the second time,
 * since ids are unique; a round of the text mover made twice finds nothing the second time),
 * and so is every later one.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { promised } from '../util/promised.js';
import type { InsertOutcome, RowWriter } from './row-writer.js';
import type { Summary } from './summary.js';
import type { MoveResult, TextMover } from './text-mover.js';
import type { WriterReply, WriterRequest, WriterSetup } from './writer-protocol.js';

/** Where the index's writes are made: a thread of their own, or the main thread (inlineWrites). */
export interface IndexWrites {
  insert(summaries: readonly Summary[]): Promise<InsertOutcome[]>;
  complete(summary: Summary): Promise<boolean>;
  /** One round of the text mover. */
  move(): Promise<MoveResult>;
  /** Resolves once a write would not wait for a thread to start (true if a thread makes it). */
  ready(): Promise<boolean>;
  /** Lets go of the connection of its own, if it has one. */
  close(): Promise<void>;
}

/** The writes made on this thread, with its connections (closed by their owner, not here). */
export function inlineWrites(rows: RowWriter, mover: () => TextMover): IndexWrites {
  // A write that throws (SQLITE_BUSY, a closed connection) rejects its promise.
  return {
    insert: (summaries) => promised(() => rows.insert(summaries)),
    complete: (summary) => promised(() => rows.complete(summary)),
    move: () => promised(() => mover().move()),
    ready: () => Promise.resolve(false),
    close: () => Promise.resolve(),
  };
}

/**
 * The worker's script. Built, it sits beside this module: tsc's dist/src/sink/, or the CLI
 * bundle's chunk directory (scripts/bundle-cli.mjs puts it there). Run from src/ by vitest,
 * which compiles TypeScript as it loads it (a worker thread cannot), the build's copy serves:
 * the test command builds first.
 */
export function writerScript(): URL {
  const beside = new URL('./writer-worker.js', import.meta.url);
  if (!import.meta.url.endsWith('.ts')) return beside;
  return new URL('../../dist/src/sink/writer-worker.js', import.meta.url);
}

interface Pending {
  readonly answered: (reply: WriterReply) => void;
  /** Makes the same write with `writes` instead (the thread failed before answering). */
  readonly redo: (writes: IndexWrites) => void;
}

export class WriterThread implements IndexWrites {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  /**
   * Until the thread has opened the index, writes are made here (a thread takes ~100 ms of
   * CPU to start, which should not hold the first message); once it has failed, too.
   */
  private state: 'starting' | 'running' | 'failed' | 'closing' = 'starting';
  private readonly exited: Promise<void>;
  private closed: Promise<void> | undefined;
  private readonly running: Promise<boolean>;
  private settleRunning: (running: boolean) => void = () => undefined;

  private readonly role: WriterSetup['role'];

  constructor(
    setup: WriterSetup,
    private readonly log: Logger,
    /** Writes made on this thread, with its own connection. */
    private readonly here: IndexWrites,
    script: URL = writerScript(),
  ) {
    if (!existsSync(fileURLToPath(script))) {
      // Thrown here, not in the worker, so that the message names what to do.
      throw new Error(`${fileURLToPath(script)} is missing: build mailwharf (npm run build)`);
    }
    this.role = setup.role;
    this.running = new Promise((resolve) => {
      this.settleRunning = resolve;
    });
    this.worker = new Worker(script, { workerData: setup });
    // Idle, the thread does not keep the process alive; a write or close under way does (a
    // fixture's stop() may be all that is left to wait for).
    this.worker.unref();
    this.worker.on('message', (reply: WriterReply) => {
      this.answered(reply);
    });
    this.worker.on('error', (error) => {
      this.failed(error);
    });
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        // Exiting is what it does once it has answered a close; anything else is a failure.
        if (this.state !== 'closing' || this.pending.size > 0) {
          this.failed(new Error(`the writer thread exited (code ${String(code)})`));
        }
        resolve();
      });
    });
  }

  /** Resolves true once writes go to the thread, false if they never will. */
  ready(): Promise<boolean> {
    return this.running;
  }

  insert(summaries: readonly Summary[]): Promise<InsertOutcome[]> {
    return this.request(
      (id) => ({ op: 'insert', id, summaries }),
      (reply) => ('outcomes' in reply ? [...reply.outcomes] : undefined),
      (writes) => writes.insert(summaries),
    );
  }

  complete(summary: Summary): Promise<boolean> {
    return this.request(
      (id) => ({ op: 'complete', id, summary }),
      (reply) => ('completed' in reply ? reply.completed : undefined),
      (writes) => writes.complete(summary),
    );
  }

  move(): Promise<MoveResult> {
    return this.request(
      (id) => ({ op: 'move', id }),
      (reply) => ('moved' in reply ? reply.moved : undefined),
      (writes) => writes.move(),
    );
  }

  /** Answers once every write asked before it is made, the thread has exited and so has `here`. */
  close(): Promise<void> {
    this.closed ??= this.closeOnce();
    return this.closed;
  }

  private async closeOnce(): Promise<void> {
    const state = this.state;
    this.state = 'closing';
    this.settleRunning(false);
    if (state === 'running') {
      this.worker.ref();
      await this.send(
        (id) => ({ op: 'close', id }),
        (reply) => ('closed' in reply ? true : undefined),
        async (writes) => {
          await writes.close();
          return true;
        },
      );
    } else {
      void this.worker.terminate();
    }
    await this.exited;
    await this.here.close();
  }

  private request<T>(
    message: (id: number) => WriterRequest,
    read: (reply: WriterReply) => T | undefined,
    redo: (writes: IndexWrites) => Promise<T>,
  ): Promise<T> {
    return this.state === 'running' ? this.send(message, read, redo) : redo(this.here);
  }

  /** Asks the thread; if it fails before it answers, `redo` makes the same write here. */
  private send<T>(
    message: (id: number) => WriterRequest,
    read: (reply: WriterReply) => T | undefined,
    redo: (writes: IndexWrites) => Promise<T>,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, {
        answered: (reply) => {
          const result = 'error' in reply ? undefined : read(reply);
          if (result !== undefined) resolve(result);
          else reject(new Error('error' in reply ? reply.error : 'the writer thread answered out of turn'));
        },
        redo: (writes) => {
          redo(writes).then(resolve, reject);
        },
      });
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage(message(id));
    });
  }

  private answered(reply: WriterReply): void {
    if ('ready' in reply) {
      if (this.state === 'starting') {
        this.state = 'running';
        this.settleRunning(true);
        this.log.debug({ role: this.role }, 'sink writer thread running');
      }
      return;
    }
    if (reply.id === undefined) {
      this.log.error({ err: reply.err }, reply.problem);
      return;
    }
    const pending = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    if (this.pending.size === 0 && this.state !== 'closing') this.worker.unref();
    pending?.answered(reply);
  }

  /** The thread is gone: what it had not answered is written here, in the order it was asked. */
  private failed(error: unknown): void {
    if (this.state === 'failed') return;
    // Failing while closing: the close is redone here with the rest.
    this.state = 'failed';
    this.settleRunning(false);
    this.log.error(
      { err: String(error), role: this.role },
      'sink writer thread failed; the main thread writes the index',
    );
    this.worker.unref();
    const unanswered = [...this.pending.values()];
    this.pending.clear();
    for (const pending of unanswered) pending.redo(this.here);
    void this.worker.terminate();
  }
}
