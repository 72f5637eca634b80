/**
 * The index schema, as numbered steps (SQLite's user_version records the last one applied).
 * A file from a newer mailwharf (version above ours) is rebuilt from the spool rather than
 * guessed at; an older one is brought forward step by step. The index is two files: the rows
 * (sink.sqlite, these steps) and the full-text tables (sink-text.sqlite, TEXT_STEPS); see
 * text-file.ts for why, and how the two are kept a pair.
 */
import type { IndexDatabase } from './database.js';

/** The full-text tables as they are now (a clear drops and makes them again; see text-mover.ts). */
export const SEARCH_TEXT_TABLE = `CREATE VIRTUAL TABLE search_text USING fts5 (text, tokenize = 'trigram')`;
export const HEADER_TEXT_TABLE = `CREATE VIRTUAL TABLE header_text USING fts5 (
    subject, from_text, to_text, cc_text, bcc_text, reply_to_text, message_id, tokenize = 'trigram'
  )`;

/**
 * FTS5 merges the segments of a level once `automerge` of them are there (default 4). With
 * 100,000 rows indexed, that merging was half the cost of moving staged text in: 0.31 ms per
 * message at 4, 0.17 at 16 (the most FTS5 allows). A search reads a few more segments.
 */
export const TEXT_MERGE_SETTINGS = `INSERT INTO search_text (search_text, rank) VALUES ('automerge', 16);
  INSERT INTO header_text (header_text, rank) VALUES ('automerge', 16);`;

/** The columns of header_text, as text_staging holds them too. */
export const HEADER_COLUMNS = [
  'subject',
  'from_text',
  'to_text',
  'cc_text',
  'bcc_text',
  'reply_to_text',
  'message_id',
] as const;

const steps: readonly string[] = [
  // 1: messages in arrival order (seq), header fields for list and header searches (the
  // *_text columns are lower-cased for substring matching), a trigram full-text table over
  // what bare search words look in (substrings, as Mailpit's LIKE), tags, read state.
  `
  CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    size INTEGER NOT NULL,
    read INTEGER NOT NULL DEFAULT 0,
    complete INTEGER NOT NULL,
    parse_error TEXT,
    message_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    subject_text TEXT NOT NULL,
    date TEXT NOT NULL,
    snippet TEXT NOT NULL,
    from_json TEXT NOT NULL,
    to_json TEXT NOT NULL,
    cc_json TEXT NOT NULL,
    bcc_json TEXT NOT NULL,
    reply_to_json TEXT NOT NULL,
    from_text TEXT NOT NULL,
    to_text TEXT NOT NULL,
    cc_text TEXT NOT NULL,
    bcc_text TEXT NOT NULL,
    reply_to_text TEXT NOT NULL,
    attachments_json TEXT NOT NULL,
    attachments INTEGER NOT NULL,
    inline INTEGER NOT NULL,
    envelope_json TEXT NOT NULL,
    sender_text TEXT NOT NULL,
    recipients_text TEXT NOT NULL,
    mailboxes TEXT NOT NULL
  );
  CREATE INDEX messages_created ON messages (created);
  CREATE INDEX messages_unread ON messages (read) WHERE read = 0;
  CREATE TABLE tags (
    seq INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (seq, tag)
  ) WITHOUT ROWID;
  CREATE INDEX tags_by_name ON tags (tag COLLATE NOCASE);
  -- Deleted from the index, files not yet unlinked: a crash in between must not bring them back.
  CREATE TABLE deleting (id TEXT PRIMARY KEY) WITHOUT ROWID;
  CREATE VIRTUAL TABLE search_text USING fts5 (text, tokenize = 'trigram');
  `,
  // 2: retention's count and total size read this narrow index, never the wide rows (a scan
  // of those took ~1.6 s at 100,000 messages, and ran after every insert).
  `CREATE INDEX messages_size ON messages (size);`,
  // 3: the list and the searches read narrow rows. What only a page of 50 needs (addresses
  // and attachments as JSON, the envelope, the snippet) moves to message_details, read by seq
  // for the rows shown; header searches go through a trigram full-text table (substrings,
  // case-insensitive) instead of instr() over every row. A scan of the wide rows took ~1 s at
  // 100,000 messages. The table `meta` records a clean close (see Sink.open).
  `
  CREATE TABLE message_details (
    seq INTEGER PRIMARY KEY REFERENCES messages (seq) ON DELETE CASCADE,
    parse_error TEXT,
    message_id TEXT NOT NULL,
    date TEXT NOT NULL,
    snippet TEXT NOT NULL,
    from_json TEXT NOT NULL,
    to_json TEXT NOT NULL,
    cc_json TEXT NOT NULL,
    bcc_json TEXT NOT NULL,
    reply_to_json TEXT NOT NULL,
    attachments_json TEXT NOT NULL,
    envelope_json TEXT NOT NULL
  );
  INSERT INTO message_details
    SELECT seq, parse_error, message_id, date, snippet, from_json, to_json, cc_json, bcc_json,
      reply_to_json, attachments_json, envelope_json FROM messages;
  ${HEADER_TEXT_TABLE};
  INSERT INTO header_text (rowid, subject, from_text, to_text, cc_text, bcc_text, reply_to_text, message_id)
    SELECT seq, subject_text, from_text, to_text, cc_text, bcc_text, reply_to_text, lower(message_id)
    FROM messages;
  CREATE TABLE messages_narrow (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    size INTEGER NOT NULL,
    read INTEGER NOT NULL DEFAULT 0,
    complete INTEGER NOT NULL,
    subject TEXT NOT NULL,
    attachments INTEGER NOT NULL,
    inline INTEGER NOT NULL,
    sender_text TEXT NOT NULL,
    recipients_text TEXT NOT NULL,
    mailboxes TEXT NOT NULL
  );
  INSERT INTO messages_narrow
    SELECT seq, id, created, size, read, complete, subject, attachments, inline, sender_text,
      recipients_text, mailboxes FROM messages;
  DROP TABLE messages;
  ALTER TABLE messages_narrow RENAME TO messages;
  CREATE INDEX messages_created ON messages (created);
  CREATE INDEX messages_unread ON messages (read) WHERE read = 0;
  CREATE INDEX messages_size ON messages (size);
  -- Search and header text of the newest rows, moved into the full-text tables in batches
  -- (see MessageIndex.moveStagedText).
  CREATE TABLE search_staging (seq INTEGER PRIMARY KEY, text TEXT NOT NULL);
  CREATE TABLE header_staging (
    seq INTEGER PRIMARY KEY, subject TEXT NOT NULL, from_text TEXT NOT NULL, to_text TEXT NOT NULL,
    cc_text TEXT NOT NULL, bcc_text TEXT NOT NULL, reply_to_text TEXT NOT NULL, message_id TEXT NOT NULL
  );
  -- 'clean': when queue/ last changed as of a clean close (see Sink.open).
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  `,
  // 4: fewer merges of the full-text segments as rows arrive (see TEXT_MERGE_SETTINGS).
  TEXT_MERGE_SETTINGS,
  // 5: total, unread and bytes, kept in the file by every write in its own transaction.
  // Counting 100,000 rows took ~50 ms, and every list answer carries the counts; they were
  // kept in memory, which only works while one connection writes (see writer-thread.ts).
  `
  CREATE TABLE counts (
    only INTEGER PRIMARY KEY CHECK (only = 1),
    total INTEGER NOT NULL,
    unread INTEGER NOT NULL,
    bytes INTEGER NOT NULL
  );
  INSERT INTO counts (only, total, unread, bytes)
    SELECT 1, count(*), count(*) FILTER (WHERE read = 0), coalesce(sum(size), 0) FROM messages;
  `,
  // 6: the full-text tables move to a file of their own (text-file.ts), filled by the text
  // mover (text-mover.ts). What they held is staged again, to be moved into that file in the
  // background (searched where it is meanwhile), and the two staging tables become one: a
  // row's text keeps its place in line (stage) when its message is completed or deleted.
  // text_gone: deleted messages whose text is still to leave the text file. text_file: the
  // pair's name (see text-file.ts) and how many times every row was deleted at once.
  `
  CREATE TABLE text_staging (
    stage INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL,
    text TEXT NOT NULL,
    ${HEADER_COLUMNS.map((column) => `${column} TEXT NOT NULL`).join(',\n    ')}
  );
  CREATE INDEX text_staging_seq ON text_staging (seq);
  INSERT INTO text_staging (seq, text, ${HEADER_COLUMNS.join(', ')})
    SELECT messages.seq, coalesce(search_text.text, ''),
      ${HEADER_COLUMNS.map((c) => `coalesce(header_text.${c}, '')`).join(', ')}
    FROM messages
      LEFT JOIN search_text ON search_text.rowid = messages.seq
      LEFT JOIN header_text ON header_text.rowid = messages.seq
    WHERE messages.seq NOT IN (SELECT seq FROM search_staging)
    ORDER BY messages.seq;
  INSERT INTO text_staging (seq, text, ${HEADER_COLUMNS.join(', ')})
    SELECT search_staging.seq, search_staging.text, ${HEADER_COLUMNS.map((c) => `header_staging.${c}`).join(', ')}
    FROM search_staging JOIN header_staging ON header_staging.seq = search_staging.seq
    ORDER BY search_staging.seq;
  DROP TABLE search_text;
  DROP TABLE header_text;
  DROP TABLE search_staging;
  DROP TABLE header_staging;
  CREATE TABLE text_gone (seq INTEGER PRIMARY KEY);
  CREATE TABLE text_file (
    only INTEGER PRIMARY KEY CHECK (only = 1),
    pair TEXT,
    clears INTEGER NOT NULL
  );
  INSERT INTO text_file (only, pair, clears) VALUES (1, NULL, 0);
  `,
];

/** The text file's steps (see text-file.ts). */
const TEXT_STEPS: readonly string[] = [
  // 1: the full-text tables, and how far the staged text of the rows file has been moved in
  // (upto, a stage), as of which clear of the rows file (clears), for which pair.
  `
  ${SEARCH_TEXT_TABLE};
  ${HEADER_TEXT_TABLE};
  ${TEXT_MERGE_SETTINGS}
  CREATE TABLE moved (
    only INTEGER PRIMARY KEY CHECK (only = 1),
    pair TEXT NOT NULL,
    upto INTEGER NOT NULL,
    clears INTEGER NOT NULL
  );
  `,
];

export const SCHEMA_VERSION = steps.length;
export const TEXT_SCHEMA_VERSION = TEXT_STEPS.length;

export class NewerIndexError extends Error {}

/** Brings the rows file to the current schema (or to `upTo`: tests build older files so). */
export function migrate(db: IndexDatabase, upTo: number = SCHEMA_VERSION): void {
  migrateSteps(db, steps.slice(0, upTo), 'index');
}

export function migrateText(db: IndexDatabase): void {
  migrateSteps(db, TEXT_STEPS, 'text index');
}

function migrateSteps(db: IndexDatabase, steps: readonly string[], name: string): void {
  const current = db.userVersion();
  if (current > steps.length) {
    throw new NewerIndexError(`${name} schema ${String(current)} is newer than ${String(steps.length)}`);
  }
  if (current === steps.length) return;
  // A step may rebuild a table others refer to; with foreign keys on, dropping it would
  // cascade into them (SQLite's "twelve steps": keys off outside the transaction, checked after).
  db.exec('PRAGMA foreign_keys = OFF');
  try {
    for (let version = current; version < steps.length; version++) {
      db.transaction(() => {
        db.exec(steps[version] ?? '');
        db.setUserVersion(version + 1);
      });
    }
  } finally {
    db.exec('PRAGMA foreign_keys = ON');
  }
}
