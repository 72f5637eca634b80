/**
 * The captured-mail index as SQL: one row per message in arrival order (seq), its tags, its
 * search text, and its counts (total, unread, bytes), which every write keeps in its own
 * transaction. Two connections write (the writer thread's and the main thread's), so a call
 * that reads several statements reads them in one snapshot: a page and its counts come from
 * one moment of the index.
 */
import type { Envelope } from '../spool/envelope.js';
import type { IndexDatabase, SqlValue } from './database.js';
import { HEADER_COLUMNS } from './migrations.js';
import { EVERYTHING, mailboxKeys, type Condition } from './search.js';
import type { IndexedAttachment, IndexedMessage, MailAddress, Summary } from './summary.js';

interface Row {
  seq: number;
  id: string;
  created: number;
  size: number;
  read: number;
  complete: number;
  parse_error: string | null;
  message_id: string;
  subject: string;
  date: string;
  snippet: string;
  from_json: string;
  to_json: string;
  cc_json: string;
  bcc_json: string;
  reply_to_json: string;
  attachments_json: string;
  envelope_json: string;
  tags: string | null;
}

interface Counts {
  readonly total: number;
  readonly unread: number;
  readonly bytes: number;
}

export interface Page {
  readonly messages: readonly IndexedMessage[];
  /** Messages matching (all of them for a plain list). */
  readonly count: number;
  readonly unread: number;
}

/** A row for the rows shown: narrow fields, details and tags (joined by a character no tag holds). */
const SELECT = `SELECT messages.seq, id, created, size, read, complete, subject, parse_error, message_id, date,
  snippet, from_json, to_json, cc_json, bcc_json, reply_to_json, attachments_json, envelope_json,
  (SELECT group_concat(tag, char(10)) FROM tags WHERE tags.seq = messages.seq) AS tags
  FROM messages JOIN message_details ON message_details.seq = messages.seq`;
/** SQLite's default limit on bound parameters is 32766; stay well under it. */
const IDS_PER_STATEMENT = 500;

function addressText(addresses: readonly (MailAddress | null)[]): string {
  return addresses
    .filter((a): a is MailAddress => a !== null)
    .map((a) => `${a.Name} <${a.Address}>`.toLowerCase())
    .join('\n');
}

/** Tags in the order GET /api/v1/tags lists them: case-insensitive. */
function byName(a: string, b: string): number {
  return a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0;
}

function fromRow(row: Row): IndexedMessage {
  return {
    id: row.id,
    envelope: JSON.parse(row.envelope_json) as Envelope,
    messageId: row.message_id,
    from: JSON.parse(row.from_json) as MailAddress | null,
    to: JSON.parse(row.to_json) as MailAddress[],
    cc: JSON.parse(row.cc_json) as MailAddress[],
    bcc: JSON.parse(row.bcc_json) as MailAddress[],
    replyTo: JSON.parse(row.reply_to_json) as MailAddress[],
    subject: row.subject,
    date: row.date,
    created: new Date(row.created).toISOString(),
    size: row.size,
    attachments: JSON.parse(row.attachments_json) as IndexedAttachment[],
    snippet: row.snippet,
    tags: row.tags === null ? [] : row.tags.split('\n').sort(byName),
    read: row.read === 1,
    complete: row.complete === 1,
    parseError: row.parse_error ?? undefined,
  };
}

/** A row as get() would read it straight after its insert (unread, its own tags). */
export function newMessage(summary: Summary): IndexedMessage {
  return {
    id: summary.id,
    envelope: summary.envelope,
    messageId: summary.messageId,
    from: summary.from,
    to: summary.to,
    cc: summary.cc,
    bcc: summary.bcc,
    replyTo: summary.replyTo,
    subject: summary.subject,
    date: summary.date,
    created: new Date(Date.parse(summary.created)).toISOString(),
    size: summary.size,
    attachments: summary.attachments,
    snippet: summary.snippet,
    tags: [...summary.tags].sort(byName),
    read: false,
    complete: summary.complete,
    parseError: summary.parseError,
  };
}

const NARROW_COLUMNS = [
  'id',
  'created',
  'size',
  'complete',
  'subject',
  'attachments',
  'inline',
  'sender_text',
  'recipients_text',
  'mailboxes',
] as const;

const DETAIL_COLUMNS = [
  'parse_error',
  'message_id',
  'date',
  'snippet',
  'from_json',
  'to_json',
  'cc_json',
  'bcc_json',
  'reply_to_json',
  'attachments_json',
  'envelope_json',
] as const;

type Column = (typeof NARROW_COLUMNS)[number] | (typeof DETAIL_COLUMNS)[number];
type HeaderColumn = (typeof HEADER_COLUMNS)[number];

function columns(summary: Summary): Record<Column, SqlValue> {
  return {
    id: summary.id,
    created: Date.parse(summary.created),
    size: summary.size,
    complete: summary.complete ? 1 : 0,
    subject: summary.subject,
    attachments: summary.attachments.filter((a) => !a.inline).length,
    inline: summary.attachments.filter((a) => a.inline).length,
    sender_text: summary.envelope.mailFrom.toLowerCase(),
    recipients_text: summary.envelope.rcptTo.map((r) => r.address.toLowerCase()).join('\n'),
    mailboxes: mailboxKeys(summary.envelope),
    parse_error: summary.parseError ?? null,
    message_id: summary.messageId,
    date: summary.date,
    snippet: summary.snippet,
    from_json: JSON.stringify(summary.from),
    to_json: JSON.stringify(summary.to),
    cc_json: JSON.stringify(summary.cc),
    bcc_json: JSON.stringify(summary.bcc),
    reply_to_json: JSON.stringify(summary.replyTo),
    attachments_json: JSON.stringify(summary.attachments),
    envelope_json: JSON.stringify(summary.envelope),
  };
}

/** What header searches look in, lower-cased (see search.ts). */
function headerText(summary: Summary): Record<HeaderColumn, string> {
  return {
    subject: summary.subject.toLowerCase(),
    from_text: addressText([summary.from]),
    to_text: addressText(summary.to),
    cc_text: addressText(summary.cc),
    bcc_text: addressText(summary.bcc),
    reply_to_text: addressText(summary.replyTo),
    message_id: summary.messageId.toLowerCase(),
  };
}

const INSERT_MESSAGE = `INSERT INTO messages (${NARROW_COLUMNS.join(', ')})
  VALUES (${NARROW_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (id) DO NOTHING`;
const UPDATE_MESSAGE = `UPDATE messages SET ${NARROW_COLUMNS.map((name) => `${name} = ?`).join(', ')} WHERE seq = ?`;
const UPSERT_DETAILS = `INSERT OR REPLACE INTO message_details (seq, ${DETAIL_COLUMNS.join(', ')})
  VALUES (?, ${DETAIL_COLUMNS.map(() => '?').join(', ')})`;
const STAGE_TEXT = `INSERT INTO text_staging (seq, text, ${HEADER_COLUMNS.join(', ')})
  VALUES (?, ?, ${HEADER_COLUMNS.map(() => '?').join(', ')})`;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let index = 0; index < items.length; index += size) out.push(items.slice(index, index + size));
  return out;
}

const ADJUST_COUNTS = 'UPDATE counts SET total = total + ?, unread = unread + ?, bytes = bytes + ?';

export class MessageIndex {
  constructor(
    private readonly db: IndexDatabase,
    /**
     * Reads with conditions (page, ids, all, matches): the main thread's connection that
     * attaches the text file (see search.ts, TextScope). The writer's own index reads them
     * on its connection, with conditions on staged text only.
     */
    private readonly search: IndexDatabase = db,
  ) {}

  /**
   * Counts the rows again. Every write keeps the counts in its own transaction, so they can
   * only be wrong if the file was changed by hand; a start after a crash reads every id in
   * any case (see Sink.reconcile), and this costs ~50 ms more at 100,000 messages.
   */
  recount(): void {
    this.db.exec(`UPDATE counts SET
      total = (SELECT count(*) FROM messages),
      unread = (SELECT count(*) FROM messages WHERE read = 0),
      bytes = (SELECT coalesce(sum(size), 0) FROM messages)`);
  }

  /** Takes the clean-close mark (see Sink.open): a crash from now on leaves none. */
  takeCleanMark(): string | undefined {
    return this.db.statement<{ value: string }>("DELETE FROM meta WHERE key = 'clean' RETURNING value").get()
      ?.value;
  }

  setCleanMark(value: string): void {
    this.db.statement("INSERT OR REPLACE INTO meta (key, value) VALUES ('clean', ?)").run(value);
  }

  /**
   * Adds messages (nothing for an id indexed already; true for each that was new) in one transaction, without a savepoint each (two statements more per row);
   * if one fails, none is added and the caller may retry them one by one.
   */
  insertAll(summaries: readonly Summary[]): boolean[] {
    return this.db.transaction(() => {
      const inserted = summaries.map((summary) => this.insertRow(summary));
      let rows = 0;
      let bytes = 0;
      inserted.forEach((isNew, index) => {
        if (!isNew) return;
        rows++;
        bytes += summaries[index]?.size ?? 0;
      });
      if (rows > 0) this.db.statement(ADJUST_COUNTS).run(rows, rows, bytes);
      return inserted;
    });
  }

  private insertRow(summary: Summary): boolean {
    const values = columns(summary);
    const result = this.db.statement(INSERT_MESSAGE).run(...NARROW_COLUMNS.map((name) => values[name]));
    if (result.changes === 0) return false;
    const seq = Number(result.lastInsertRowid);
    this.writeDetails(seq, summary, values);
    this.writeTags(seq, summary.tags);
    return true;
  }

  /** Replaces a header-derived row's fields with those of the full parse (read state kept). */
  complete(summary: Summary): boolean {
    return this.db.transaction(() => {
      const seq = this.seqOf(summary.id);
      if (seq === undefined) return false;
      const values = columns(summary);
      this.db.statement(UPDATE_MESSAGE).run(...NARROW_COLUMNS.map((name) => values[name]), seq);
      // Staged again, to replace in the text file what the header block gave (see text-mover.ts).
      this.db.statement('DELETE FROM text_staging WHERE seq = ?').run(seq);
      this.writeDetails(seq, summary, values);
      // Tags set over the API stay; those from the X-Tags header join them.
      this.writeTags(seq, summary.tags);
      return true;
    });
  }

  private writeDetails(seq: number, summary: Summary, values: Record<Column, SqlValue>): void {
    this.db.statement(UPSERT_DETAILS).run(seq, ...DETAIL_COLUMNS.map((name) => values[name]));
    const headers = headerText(summary);
    this.db
      .statement(STAGE_TEXT)
      .run(seq, summary.searchText, ...HEADER_COLUMNS.map((name) => headers[name]));
  }

  private writeTags(seq: number, tags: readonly string[]): void {
    for (const tag of tags)
      this.db.statement('INSERT OR IGNORE INTO tags (seq, tag) VALUES (?, ?)').run(seq, tag);
  }

  private seqOf(id: string): number | undefined {
    return this.db.statement<{ seq: number }>('SELECT seq FROM messages WHERE id = ?').get(id)?.seq;
  }

  get(id: string): IndexedMessage | undefined {
    const row = this.db.statement<Row>(`${SELECT} WHERE id = ?`).get(id);
    return row ? fromRow(row) : undefined;
  }

  /**
   * The rows shown, fetched by seq once the narrow table has picked them, in the order given:
   * one statement per slice (a statement per row cost more than reading it).
   */
  private rowsOf(seqs: readonly number[], db: IndexDatabase): IndexedMessage[] {
    const rows = new Map<number, Row>();
    for (const part of chunks(seqs, IDS_PER_STATEMENT)) {
      const found = db
        .statement<Row>(`${SELECT} WHERE messages.seq IN (${part.map(() => '?').join(',')})`)
        .all(...part);
      for (const row of found) rows.set(row.seq, row);
    }
    return seqs.flatMap((seq) => {
      const row = rows.get(seq);
      return row ? [fromRow(row)] : [];
    });
  }

  has(id: string): boolean {
    return this.seqOf(id) !== undefined;
  }

  /** Newest first. */
  page(where: Condition, start: number, limit: number): Page {
    return this.search.snapshot(() => this.pageNow(where, start, limit));
  }

  private pageNow(where: Condition, start: number, limit: number): Page {
    // The plain list reads the kept counts; a filter looks at the narrow rows it picks.
    const totals =
      where === EVERYTHING
        ? this.plainTotals()
        : this.search
            .statement<{ count: number; unread: number | null }>(
              `SELECT count(*) AS count, sum(read = 0) AS unread FROM messages WHERE ${where.sql}`,
            )
            .get(...where.params);
    const seqs = this.search
      .statement<{ seq: number }>(
        `SELECT seq FROM messages WHERE ${where.sql} ORDER BY seq DESC LIMIT ? OFFSET ?`,
      )
      .all(...where.params, limit, start)
      .map((row) => row.seq);
    return {
      messages: this.rowsOf(seqs, this.search),
      count: totals?.count ?? 0,
      unread: totals?.unread ?? 0,
    };
  }

  /** The kept counts, read in the page's snapshot. */
  private plainTotals(): { count: number; unread: number } {
    const { total, unread } = this.counted(this.search);
    return { count: total, unread };
  }

  /** Ids matching, oldest first. */
  ids(where: Condition): string[] {
    return this.search
      .statement<{ id: string }>(`SELECT id FROM messages WHERE ${where.sql} ORDER BY seq`)
      .all(...where.params)
      .map((row) => row.id);
  }

  /** Matching, oldest first (for the test fixture, which lists in arrival order). */
  all(where: Condition): IndexedMessage[] {
    return this.search.snapshot(() =>
      this.rowsOf(
        this.search
          .statement<{ seq: number }>(`SELECT seq FROM messages WHERE ${where.sql} ORDER BY seq`)
          .all(...where.params)
          .map((row) => row.seq),
        this.search,
      ),
    );
  }

  matches(id: string, where: Condition): boolean {
    return (
      this.search
        .statement(`SELECT 1 FROM messages WHERE id = ? AND (${where.sql})`)
        .get(id, ...where.params) !== undefined
    );
  }

  stats(): { total: number; unread: number } {
    const { total, unread } = this.counted();
    return { total, unread };
  }

  private counted(db: IndexDatabase = this.db): Counts {
    return (
      db.statement<Counts>('SELECT total, unread, bytes FROM counts').get() ?? {
        total: 0,
        unread: 0,
        bytes: 0,
      }
    );
  }

  /** Count and bytes (kept, not counted), for retention's quick "anything to do?". */
  totals(): { count: number; bytes: number } {
    const { total, bytes } = this.counted();
    return { count: total, bytes };
  }

  /** The oldest arrival (the created index's first entry). */
  oldestCreated(): number | null {
    return (
      this.db.statement<{ oldest: number | null }>('SELECT min(created) AS oldest FROM messages').get()
        ?.oldest ?? null
    );
  }

  /** Oldest first: id, size, arrival. */
  oldest(): IterableIterator<{ id: string; size: number; created: number }> {
    return this.db
      .statement<{ id: string; size: number; created: number }>(
        'SELECT id, size, created FROM messages ORDER BY seq',
      )
      .iterate();
  }

  /** Sets the read flag; returns the ids that changed. */
  setRead(ids: readonly string[] | undefined, read: boolean): string[] {
    return this.db.transaction(() => {
      const changed = this.writeRead(ids, read);
      if (changed.length > 0) this.db.statement(ADJUST_COUNTS).run(0, (read ? -1 : 1) * changed.length, 0);
      return changed;
    });
  }

  private writeRead(ids: readonly string[] | undefined, read: boolean): string[] {
    const flag = read ? 1 : 0;
    if (ids === undefined) {
      return this.db
        .statement<{ id: string }>('UPDATE messages SET read = ? WHERE read <> ? RETURNING id')
        .all(flag, flag)
        .map((row) => row.id);
    }
    return chunks(ids, IDS_PER_STATEMENT).flatMap((part) =>
      this.db
        .statement<{ id: string }>(
          `UPDATE messages SET read = ? WHERE read <> ? AND id IN (${part.map(() => '?').join(',')}) RETURNING id`,
        )
        .all(flag, flag, ...part)
        .map((row) => row.id),
    );
  }

  /**
   * Removes rows in one transaction and records the ids as being deleted (their files go
   * next; see finishDeleting). Returns the ids that were indexed.
   */
  remove(ids: readonly string[] | undefined): string[] {
    // Every row: keys off, so DELETE FROM messages drops the table's pages at once (with keys
    // on, messages being a parent, it went row by row: 3 times the CPU, twice the time).
    // Its children are emptied in the same transaction, so no key is left dangling.
    if (ids === undefined) {
      return this.db.withoutForeignKeys(() => this.db.transaction(() => this.removeRows(ids)));
    }
    return this.db.transaction(() => this.removeRows(ids));
  }

  private removeRows(ids: readonly string[] | undefined): string[] {
    if (ids === undefined) {
      const all = this.db
        .statement<{ id: string }>('SELECT id FROM messages')
        .all()
        .map((row) => row.id);
      this.db.exec('INSERT OR IGNORE INTO deleting (id) SELECT id FROM messages');
      // Children first, so no row is looked up for cascades.
      // The text file's tables are dropped by the text mover, which finds `clears` counted up
      // (deleting their rows one by one would re-read every text).
      this.db.exec(`DELETE FROM tags; DELETE FROM message_details; DELETE FROM messages;
        DELETE FROM text_staging; DELETE FROM text_gone;
        UPDATE text_file SET clears = clears + 1;
        UPDATE counts SET total = 0, unread = 0, bytes = 0;`);
      return all;
    }
    let unread = 0;
    let bytes = 0;
    const removed = chunks(ids, IDS_PER_STATEMENT).flatMap((part) => {
      const marks = part.map(() => '?').join(',');
      const gone = this.db
        .statement<{ id: string; seq: number; size: number; read: number }>(
          `DELETE FROM messages WHERE id IN (${marks}) RETURNING id, seq, size, read`,
        )
        .all(...part);
      for (const row of gone) {
        if (row.read === 0) unread++;
        bytes += row.size;
        // Its text leaves the text file with the text mover's next round (searches meanwhile
        // find no row for it).
        this.db.statement('DELETE FROM text_staging WHERE seq = ?').run(row.seq);
        this.db.statement('INSERT OR IGNORE INTO text_gone (seq) VALUES (?)').run(row.seq);
        this.db.statement('INSERT OR IGNORE INTO deleting (id) VALUES (?)').run(row.id);
      }
      return gone.map((row) => row.id);
    });
    if (removed.length > 0) this.db.statement(ADJUST_COUNTS).run(-removed.length, -unread, -bytes);
    return removed;
  }

  /** Ids whose files are still to be unlinked (a delete cut short by a crash). */
  deleting(): string[] {
    return this.db
      .statement<{ id: string }>('SELECT id FROM deleting')
      .all()
      .map((row) => row.id);
  }

  finishDeleting(ids: readonly string[]): void {
    this.db.transaction(() => {
      for (const part of chunks(ids, IDS_PER_STATEMENT)) {
        this.db.statement(`DELETE FROM deleting WHERE id IN (${part.map(() => '?').join(',')})`).run(...part);
      }
    });
  }

  /** Every tag in use, sorted. */
  tags(): string[] {
    return this.db
      .statement<{ tag: string }>('SELECT DISTINCT tag FROM tags ORDER BY tag COLLATE NOCASE')
      .all()
      .map((row) => row.tag);
  }

  /** Replaces the tags of these messages; returns the ids that exist. */
  setTags(ids: readonly string[], tags: readonly string[]): string[] {
    return this.db.transaction(() =>
      ids.filter((id) => {
        const seq = this.seqOf(id);
        if (seq === undefined) return false;
        this.db.statement('DELETE FROM tags WHERE seq = ?').run(seq);
        this.writeTags(seq, tags);
        return true;
      }),
    );
  }

  /** Adds tags to a message, skipping those it has in any case (tag rules at intake). */
  addTags(id: string, tags: readonly string[]): void {
    const seq = this.seqOf(id);
    if (seq === undefined) return;
    for (const tag of tags) {
      this.db
        .statement(
          `INSERT OR IGNORE INTO tags (seq, tag) SELECT ?, ?
            WHERE NOT EXISTS (SELECT 1 FROM tags WHERE seq = ? AND tag = ? COLLATE NOCASE)`,
        )
        .run(seq, tag, seq, tag);
    }
  }

  /** The tags of each of these messages that is indexed, as get() lists them; one query per slice. */
  tagsOf(ids: readonly string[]): Map<string, string[]> {
    const tags = new Map<string, string[]>();
    for (const part of chunks(ids, IDS_PER_STATEMENT)) {
      const rows = this.db
        .statement<{ id: string; tags: string | null }>(
          `SELECT id, (SELECT group_concat(tag, char(10)) FROM tags WHERE tags.seq = messages.seq) AS tags
            FROM messages WHERE id IN (${part.map(() => '?').join(',')})`,
        )
        .all(...part);
      for (const row of rows) tags.set(row.id, row.tags === null ? [] : row.tags.split('\n').sort(byName));
    }
    return tags;
  }

  /** Each tag in use and how many messages have it (Mailpit's info Tags). */
  tagCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const row of this.db
      .statement<{ tag: string; n: number }>('SELECT tag, count(*) AS n FROM tags GROUP BY tag ORDER BY tag')
      .iterate()) {
      counts[row.tag] = row.n;
    }
    return counts;
  }

  /** Ids of the messages with this tag (in any case). */
  idsTagged(tag: string): string[] {
    return this.db
      .statement<{ id: string }>(
        'SELECT DISTINCT id FROM messages JOIN tags ON tags.seq = messages.seq WHERE tag = ? COLLATE NOCASE',
      )
      .all(tag)
      .map((row) => row.id);
  }

  /** Renames a tag on every message (merging into the new name where both are set). */
  renameTag(from: string, to: string): void {
    this.db.transaction(() => {
      this.db
        .statement(
          'INSERT OR IGNORE INTO tags (seq, tag) SELECT seq, ? FROM tags WHERE tag = ? COLLATE NOCASE',
        )
        .run(to, from);
      this.db.statement('DELETE FROM tags WHERE tag = ? COLLATE NOCASE AND tag <> ?').run(from, to);
    });
  }

  deleteTag(tag: string): void {
    this.db.statement('DELETE FROM tags WHERE tag = ? COLLATE NOCASE').run(tag);
  }

  /** Rows written from the header block whose full parse was cut short. */
  incompleteIds(): string[] {
    return this.db
      .statement<{ id: string }>('SELECT id FROM messages WHERE complete = 0')
      .all()
      .map((row) => row.id);
  }

  /** Staged rows and deleted ones whose text is still to move into or out of the text file. */
  textBacklog(): number {
    return (
      this.db
        .statement<{ rows: number }>(
          'SELECT (SELECT count(*) FROM text_staging) + (SELECT count(*) FROM text_gone) AS rows',
        )
        .get()?.rows ?? 0
    );
  }

  /** Every indexed id (reconciliation with the spool). */
  allIds(): Set<string> {
    const ids = new Set<string>();
    for (const row of this.db.statement<{ id: string }>('SELECT id FROM messages').iterate()) ids.add(row.id);
    return ids;
  }
}
