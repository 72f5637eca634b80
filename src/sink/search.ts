/**
 * Mailpit's search syntax, compiled to an SQL condition over the index:
 *   from: to: cc: bcc: reply-to: addressed: subject: message-id: tag:
 *   is:read is:unread is:tagged has:attachment has:inline after:DATE before:DATE larger:SIZE smaller:SIZE
 *   "quoted phrases", -negation (or !), bare words over headers, body and attachment names.
 * Matching is case-insensitive substring matching, as Mailpit's LIKE: header fields through
 * the FTS5 trigram table header_text, bare words and phrases through search_text (a needle
 * under three characters has no trigram and scans that table's lower-cased text instead),
 * both in the text file (see text-file.ts), and the staged text not yet moved there.
 * Dates are taken as UTC (the `tz` parameter is accepted and ignored).
 */
import type { SqlValue } from './database.js';

export interface SearchTerm {
  readonly negate: boolean;
  readonly field: string | undefined;
  readonly value: string;
}

export class SearchSyntaxError extends Error {}

/** A condition on the `messages` table and its parameters. */
export interface Condition {
  readonly sql: string;
  readonly params: readonly SqlValue[];
}

export const EVERYTHING: Condition = { sql: '1', params: [] };

/**
 * Where text conditions look. 'indexed': the text file's full-text tables and the rows
 * staged after its `upto` (the main thread's reading connection, with the text file attached
 * as `text`). 'staged': the staged rows only, for a row being written, whose text is staged
 * in the same transaction (tag rules, on connections that do not attach the text file: a
 * write on one that did would take the text file's lock too).
 */
export type TextScope = 'indexed' | 'staged';

/** Staged rows not yet in the text file (those at or below its `upto` are, and are forgotten soon). */
const PENDING = 'stage > (SELECT upto FROM text.moved)';

const TOKEN = /([-!])?(?:([a-z-]+):)?(?:"([^"]*)"?|(\S+))/gi;

export function parseQuery(query: string): SearchTerm[] {
  const terms: SearchTerm[] = [];
  for (const match of query.matchAll(TOKEN)) {
    const [, negation, field, quoted, bare] = match;
    const value = (quoted ?? bare ?? '').trim();
    if (value === '' && field === undefined) continue;
    terms.push({ negate: negation !== undefined, field: field?.toLowerCase(), value });
  }
  return terms;
}

function sizeOf(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(value);
  if (!match) throw new SearchSyntaxError(`not a size: ${value}`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match[2] ?? '').toLowerCase()] ?? 1;
  return Number(match[1]) * unit;
}

function dateOf(value: string): number {
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new SearchSyntaxError(`not a date: ${value}`);
  return time;
}

/**
 * Rows whose seq is in one list: the full-text match and the staged rows together (UNION ALL:
 * a row is in one place or the other, or briefly both while a completion's text waits to
 * replace its header block's). One list, not two OR'ed: SQLite walks a single IN list
 * in seq order, so a page (ORDER BY seq DESC LIMIT n) stops after n rows instead of sorting
 * every match, and a count does one lookup per match.
 *
 * Read with the rows file as `main` and the text file as `text`, in a transaction whose first
 * statement reads the rows file (each file's snapshot starts at its first read, `main` first
 * within a statement): a staged row is forgotten only after its text is in the text file, so
 * a text snapshot no older than the rows snapshot has every text the rows snapshot lacks.
 *
 * In 'staged' scope (one row, in the writer's transaction) the row's own staged text is looked
 * up by its seq: a scan of the staging table would cost as much as its backlog, once per rule.
 */
function seqIn(scope: TextScope, indexed: Condition, staged: Condition): Condition {
  if (scope === 'staged') {
    return {
      sql: `EXISTS (SELECT 1 FROM text_staging WHERE text_staging.seq = messages.seq AND (${staged.sql}))`,
      params: staged.params,
    };
  }
  return {
    sql: `seq IN (${indexed.sql} UNION ALL SELECT seq FROM text_staging WHERE ${PENDING} AND (${staged.sql}))`,
    params: [...indexed.params, ...staged.params],
  };
}

/**
 * The trigram index answers substrings of three characters or more; shorter ones scan its
 * text. The newest rows' text is still staged (see text-mover.ts): instr() there.
 */
function textContains(needle: string, scope: TextScope): Condition {
  const staged = { sql: 'instr(text, ?) > 0', params: [needle] };
  // Trigrams are of characters (code points), not UTF-16 units.
  if (Array.from(needle).length >= 3) {
    return seqIn(
      scope,
      {
        sql: 'SELECT rowid FROM text.search_text WHERE search_text MATCH ?',
        params: [`"${needle.replace(/"/g, '""')}"`],
      },
      staged,
    );
  }
  return seqIn(
    scope,
    { sql: 'SELECT rowid FROM text.search_text WHERE instr(text, ?) > 0', params: [needle] },
    staged,
  );
}

/**
 * A substring of one of these header_text columns (see textContains for short needles and
 * for the staged text of the newest rows).
 */
export function headerContains(
  columns: readonly string[],
  needle: string,
  scope: TextScope = 'indexed',
): Condition {
  const anyColumn = columns.map((c) => `instr(${c}, ?) > 0`).join(' OR ');
  const staged = { sql: anyColumn, params: columns.map(() => needle) };
  if (Array.from(needle).length >= 3) {
    return seqIn(
      scope,
      {
        sql: 'SELECT rowid FROM text.header_text WHERE header_text MATCH ?',
        params: [`{${columns.join(' ')}} : "${needle.replace(/"/g, '""')}"`],
      },
      staged,
    );
  }
  return seqIn(
    scope,
    { sql: `SELECT rowid FROM text.header_text WHERE ${anyColumn}`, params: staged.params },
    staged,
  );
}

const ADDRESS_COLUMNS: Readonly<Record<string, string>> = {
  from: 'from_text',
  to: 'to_text',
  cc: 'cc_text',
  bcc: 'bcc_text',
  'reply-to': 'reply_to_text',
};

const IS: Readonly<Record<string, string>> = {
  read: 'read = 1',
  unread: 'read = 0',
  tagged: 'EXISTS (SELECT 1 FROM tags WHERE tags.seq = messages.seq)',
};

const HAS: Readonly<Record<string, string>> = {
  attachment: 'attachments > 0',
  attachments: 'attachments > 0',
  inline: 'inline > 0',
};

function termCondition(term: SearchTerm, scope: TextScope): Condition {
  const needle = term.value.toLowerCase();
  const field = term.field;
  const addressColumn = field === undefined ? undefined : ADDRESS_COLUMNS[field];
  if (addressColumn !== undefined) return headerContains([addressColumn], needle, scope);
  switch (field) {
    case undefined:
      return textContains(needle, scope);
    case 'addressed':
      return headerContains(['to_text', 'cc_text', 'bcc_text'], needle, scope);
    case 'subject':
      return headerContains(['subject'], needle, scope);
    case 'message-id':
      return headerContains(['message_id'], needle.replace(/^<|>$/g, ''), scope);
    case 'tag':
      return { sql: 'seq IN (SELECT seq FROM tags WHERE tag = ? COLLATE NOCASE)', params: [term.value] };
    case 'is': {
      const sql = IS[needle];
      if (sql === undefined) throw new SearchSyntaxError(`unknown is:${term.value}`);
      return { sql, params: [] };
    }
    case 'has': {
      const sql = HAS[needle];
      if (sql === undefined) throw new SearchSyntaxError(`unknown has:${term.value}`);
      return { sql, params: [] };
    }
    case 'after':
      return { sql: 'created >= ?', params: [dateOf(term.value)] };
    case 'before':
      return { sql: 'created < ?', params: [dateOf(term.value)] };
    case 'larger':
      return { sql: 'size >= ?', params: [sizeOf(term.value)] };
    case 'smaller':
      return { sql: 'size < ?', params: [sizeOf(term.value)] };
    default:
      // An unknown "word:" is a bare word that happens to contain a colon (e.g. a URL).
      return textContains(`${field}:${needle}`, scope);
  }
}

/** The query as one condition (every term must hold); throws SearchSyntaxError for a bad filter value. */
export function compileQuery(query: string | undefined, scope: TextScope = 'indexed'): Condition {
  const terms = parseQuery(query ?? '');
  if (terms.length === 0) return EVERYTHING;
  const conditions = terms.map((term) => {
    const condition = termCondition(term, scope);
    return term.negate ? { sql: `NOT (${condition.sql})`, params: condition.params } : condition;
  });
  return allOf(conditions);
}

export function allOf(conditions: readonly Condition[]): Condition {
  const real = conditions.filter((c) => c !== EVERYTHING);
  if (real.length === 0) return EVERYTHING;
  return { sql: real.map((c) => `(${c.sql})`).join(' AND '), params: real.flatMap((c) => c.params) };
}

/** The mailbox a test scopes itself to (see http/mailbox.ts), as a condition. */
export function mailboxCondition(mailbox: string | undefined): Condition {
  if (mailbox === undefined || mailbox === '') return EVERYTHING;
  return { sql: 'instr(mailboxes, ?) > 0', params: [`\n${mailbox.toLowerCase()}\n`] };
}

/**
 * The keys a message answers to as a mailbox: every envelope recipient, its plus-tag
 * (user+TAG@… answers to "TAG") and the AUTH user, one per line with a line break either side.
 */
export function mailboxKeys(envelope: {
  readonly authUser?: string;
  readonly rcptTo: readonly { readonly address: string }[];
}): string {
  const keys = new Set<string>();
  if (envelope.authUser !== undefined) keys.add(envelope.authUser.toLowerCase());
  for (const rcpt of envelope.rcptTo) {
    const address = rcpt.address.toLowerCase();
    keys.add(address);
    const tag = /^[^+@]+\+([^@]+)@/.exec(address)?.[1];
    if (tag !== undefined) keys.add(tag);
  }
  return `\n${[...keys].join('\n')}\n`;
}
