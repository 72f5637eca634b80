/**
 * The index schema, as numbered steps (SQLite's user_version records the last one applied).
 * A file from a newer mailwharf (version above ours) is rebuilt from the spool rather than
 * guessed at; an older one is brought forward step by step.
 */
import type { IndexDatabase } from './database.js';

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
];

export const SCHEMA_VERSION = steps.length;

export class NewerIndexError extends Error {}

export function migrate(db: IndexDatabase): void {
  const current = db.userVersion();
  if (current > SCHEMA_VERSION) {
    throw new NewerIndexError(`index schema ${String(current)} is newer than ${String(SCHEMA_VERSION)}`);
  }
  for (let version = current; version < SCHEMA_VERSION; version++) {
    db.transaction(() => {
      db.exec(steps[version] ?? '');
      db.setUserVersion(version + 1);
    });
  }
}
