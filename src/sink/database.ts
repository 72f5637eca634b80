/**
 * The one module that knows the index is SQLite (better-sqlite3 12.x: 13.x needs Node 22).
 * Everything else sees `IndexDatabase`, a handful of synchronous calls. The index is two
 * files (rows, and their full-text tables: see text-file.ts), and four connections use them
 * while the server runs: the rows thread's (new rows, see writer-thread.ts), the text
 * thread's (the text file, with the rows file attached: text-mover.ts), and two of the main
 * thread's: one for the rare writes of the API and the reads without search, and one for
 * searches, with the text file attached (a write transaction on it would lock both files).
 * WAL lets the reads go on while the writers write; two writes to a file take turns (see
 * BUSY_WAIT_MS).
 */
import Database from 'better-sqlite3';

export type SqlValue = string | number | bigint | null | Buffer;

export interface Statement<Row> {
  run(...params: readonly SqlValue[]): { changes: number; lastInsertRowid: number | bigint };
  get(...params: readonly SqlValue[]): Row | undefined;
  all(...params: readonly SqlValue[]): Row[];
  iterate(...params: readonly SqlValue[]): IterableIterator<Row>;
}

export interface IndexDatabase {
  /** A prepared statement, cached by its text. */
  statement<Row = unknown>(sql: string): Statement<Row>;
  exec(sql: string): void;
  /**
   * Runs `work` in one write transaction (a nested call is a savepoint of the outer one: if
   * it throws, only its own writes are undone). It takes the
   * write lock as it begins: a transaction that read first and wrote later would fail at its
   * first write if the other connection had committed in between, instead of waiting.
   */
  transaction<T>(work: () => T): T;
  /** Runs `work`'s reads in one read transaction: they see one moment of the index. */
  snapshot<T>(work: () => T): T;
  /**
   * Runs `work` with foreign keys off (outside a transaction only; inside one SQLite ignores
   * the switch). For deleting every row: with keys on, SQLite deletes a parent table row by
   * row instead of dropping its pages at once.
   */
  withoutForeignKeys<T>(work: () => T): T;
  userVersion(): number;
  setUserVersion(version: number): void;
  close(): void;
}

/** The other connection held the write lock for the whole wait (see BUSY_WAIT_MS). */
export function isIndexBusy(error: unknown): boolean {
  return error instanceof Error && 'code' in error && String(error.code).startsWith('SQLITE_BUSY');
}

/** Thrown when the file exists but is not a usable SQLite database (the caller rebuilds it). */
export class CorruptIndexError extends Error {}

const STATEMENTS_CACHED = 500;
/**
 * How long a write waits for the other connection's write to end before it fails. The
 * longest writes are a delete of every row (~0.5 s at 100,000 messages) and a move of 500
 * rows of staged text (~0.1 s); 5 s is better-sqlite3's default, named here because two
 * connections now write.
 */
const BUSY_WAIT_MS = 5000;

export function openDatabase(path: string, options: { busyWaitMs?: number } = {}): IndexDatabase {
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: options.busyWaitMs ?? BUSY_WAIT_MS });
    // WAL: readers never block the writer. NORMAL (no fsync per commit): a killed process
    // loses nothing (WAL frames are in the OS's cache); a power cut may lose the last commits
    // of the index, never corrupt it. The 250's durability is the spool file's fsync, and a
    // start that finds no clean-close mark (lost with those commits) reconciles the index
    // with the spool, indexing what it lacks. An fsync per insert would cost more than the insert.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('cache_size = -16000');
    // Reading the schema finds a file that is not a database; quick_check would find more but
    // reads every page (seconds at 100,000 messages, before the server is ready). Damage deeper
    // in surfaces as SQLITE_CORRUPT on use, and `mailwharf sink reindex` rebuilds.
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
  } catch (error) {
    if (error instanceof CorruptIndexError) throw error;
    throw new CorruptIndexError(error instanceof Error ? error.message : String(error));
  }
  const opened = db;
  const cache = new Map<string, Database.Statement>();
  return {
    statement<Row>(sql: string): Statement<Row> {
      let prepared = cache.get(sql);
      if (!prepared) {
        // Search queries vary in shape; a bound keeps odd ones from piling up.
        if (cache.size >= STATEMENTS_CACHED) cache.clear();
        prepared = opened.prepare(sql);
        cache.set(sql, prepared);
      }
      return prepared as unknown as Statement<Row>;
    },
    exec(sql) {
      opened.exec(sql);
    },
    transaction(work) {
      return opened.transaction(work).immediate();
    },
    snapshot(work) {
      return opened.transaction(work).deferred();
    },
    withoutForeignKeys(work) {
      opened.pragma('foreign_keys = OFF');
      try {
        return work();
      } finally {
        opened.pragma('foreign_keys = ON');
      }
    },
    userVersion() {
      return Number(opened.pragma('user_version', { simple: true }));
    },
    setUserVersion(version) {
      opened.pragma(`user_version = ${String(Math.trunc(version))}`);
    },
    close() {
      opened.close();
    },
  };
}
