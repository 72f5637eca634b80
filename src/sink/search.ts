/**
 * Mailpit's search syntax, as a pure function over the index:
 *   from: to: cc: bcc: reply-to: addressed: subject: message-id: tag:
 *   is:read is:unread is:tagged has:attachment after:DATE before:DATE larger:SIZE smaller:SIZE
 *   "quoted phrases", -negation (or !), bare words over headers, body and attachment names.
 * Dates are taken as UTC (the `tz` parameter is accepted and ignored).
 */
import type { IndexedMessage, MailAddress } from './summary.js';

export interface SearchTerm {
  readonly negate: boolean;
  readonly field: string | undefined;
  readonly value: string;
}

export class SearchSyntaxError extends Error {}

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

function inAddresses(addresses: readonly (MailAddress | null)[], needle: string): boolean {
  return addresses.some((a) => a !== null && `${a.Name} <${a.Address}>`.toLowerCase().includes(needle));
}

function termMatches(message: IndexedMessage, term: SearchTerm): boolean {
  const needle = term.value.toLowerCase();
  switch (term.field) {
    case undefined:
      return message.searchText.includes(needle);
    case 'from':
      return inAddresses([message.from], needle);
    case 'to':
      return inAddresses(message.to, needle);
    case 'cc':
      return inAddresses(message.cc, needle);
    case 'bcc':
      return inAddresses(message.bcc, needle);
    case 'reply-to':
      return inAddresses(message.replyTo, needle);
    case 'addressed':
      return inAddresses([...message.to, ...message.cc, ...message.bcc], needle);
    case 'subject':
      return message.subject.toLowerCase().includes(needle);
    case 'message-id':
      return message.messageId.toLowerCase() === needle.replace(/^<|>$/g, '');
    case 'tag':
      return message.tags.some((tag) => tag.toLowerCase() === needle);
    case 'is':
      if (needle === 'read') return message.read;
      if (needle === 'unread') return !message.read;
      if (needle === 'tagged') return message.tags.length > 0;
      throw new SearchSyntaxError(`unknown is:${term.value}`);
    case 'has':
      if (needle === 'attachment' || needle === 'attachments')
        return message.attachments.some((a) => !a.inline);
      throw new SearchSyntaxError(`unknown has:${term.value}`);
    case 'after':
      return Date.parse(message.created) >= dateOf(term.value);
    case 'before':
      return Date.parse(message.created) < dateOf(term.value);
    case 'larger':
      return message.size >= sizeOf(term.value);
    case 'smaller':
      return message.size < sizeOf(term.value);
    default:
      // An unknown "word:" is a bare word that happens to contain a colon (e.g. a URL).
      return message.searchText.includes(`${term.field}:${needle}`);
  }
}

/** A predicate for the query; throws SearchSyntaxError for a bad filter value. */
export function compileQuery(query: string): (message: IndexedMessage) => boolean {
  const terms = parseQuery(query);
  // Validate eagerly so a bad query fails even on an empty mailbox.
  for (const term of terms) {
    if (term.field === 'larger' || term.field === 'smaller') sizeOf(term.value);
    if (term.field === 'after' || term.field === 'before') dateOf(term.value);
    const value = term.value.toLowerCase();
    if (term.field === 'is' && !['read', 'unread', 'tagged'].includes(value)) {
      throw new SearchSyntaxError(`unknown is:${term.value}`);
    }
    if (term.field === 'has' && !['attachment', 'attachments'].includes(value)) {
      throw new SearchSyntaxError(`unknown has:${term.value}`);
    }
  }
  return (message) => terms.every((term) => termMatches(message, term) !== term.negate);
}
