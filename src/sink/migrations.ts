/**
 * The index schema, as numbered steps (SQLite's user_version records the last one applied).
 * A file from a newer mailwharf (version above ours) is rebuilt from the spool rather than
 * guessed at; an older one is brought forward step by step.
 */
import type { IndexDatabase } from './database.js';

/** The full-text tables as they are now (delete-all drops and makes them again). */
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
];

export const SCHEMA_VERSION = steps.length;

export class NewerIndexError extends Error {}

export function migrate(db: IndexDatabase): void {
  const current = db.userVersion();
  if (current > SCHEMA_VERSION) {
    throw new NewerIndexError(`index schema ${String(current)} is newer than ${String(SCHEMA_VERSION)}`);
  }
  if (current === SCHEMA_VERSION) return;
  // A step may rebuild a table others refer to; with foreign keys on, dropping it would
  // cascade into them (SQLite's "twelve steps": keys off outside the transaction, checked after).
  db.exec('PRAGMA foreign_keys = OFF');
  try {
    for (let version = current; version < SCHEMA_VERSION; version++) {
      db.transaction(() => {
        db.exec(steps[version] ?? '');
        db.setUserVersion(version + 1);
      });
    }
  } finally {
    db.exec('PRAGMA foreign_keys = ON');
  }
}
