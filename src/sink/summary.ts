/**
 * What the sink keeps per captured message: the fields the list, the header searches and
 * the message view read without touching the body. Built from a full parse, from the
 * header block alone (a large message, completed right after the 250), or from the envelope
 * alone (a message mailparser cannot read: indexed raw, with the reason).
 */
import type { AddressObject, ParsedMail } from 'mailparser';
import type { Envelope } from '../spool/envelope.js';

/** Mailpit's JSON address shape (Go's net/mail.Address). */
export interface MailAddress {
  readonly Name: string;
  readonly Address: string;
}

export interface IndexedAttachment {
  readonly PartID: string;
  readonly FileName: string;
  readonly ContentType: string;
  readonly ContentID: string;
  readonly Size: number;
  readonly inline: boolean;
}

export interface IndexedMessage {
  readonly id: string;
  readonly envelope: Envelope;
  readonly messageId: string;
  readonly from: MailAddress | null;
  readonly to: readonly MailAddress[];
  readonly cc: readonly MailAddress[];
  readonly bcc: readonly MailAddress[];
  readonly replyTo: readonly MailAddress[];
  readonly subject: string;
  /** The Date header, or the time received. */
  readonly date: string;
  readonly created: string;
  readonly size: number;
  readonly attachments: readonly IndexedAttachment[];
  readonly snippet: string;
  readonly tags: readonly string[];
  readonly read: boolean;
  /** False while only the header block is indexed (body search and snippet come right after). */
  readonly complete: boolean;
  /** Why mailparser could not read the message; it is indexed from its envelope and raw bytes. */
  readonly parseError: string | undefined;
}

/** An IndexedMessage before it has a read state, plus the text bare search words look in. */
export interface Summary extends Omit<IndexedMessage, 'read'> {
  readonly searchText: string;
}

const SEARCH_TEXT_LIMIT = 100 * 1024;

export function addressList(field: AddressObject | AddressObject[] | undefined): MailAddress[] {
  if (!field) return [];
  const objects = Array.isArray(field) ? field : [field];
  return objects.flatMap((object) =>
    object.value.flatMap((entry) => {
      // Groups carry their members in `group`.
      const members = entry.group ?? [entry];
      return members.map((member) => ({ Name: member.name, Address: member.address ?? '' }));
    }),
  );
}

const SNIPPET_LENGTH = 250;

/**
 * The first 250 characters with white space collapsed. Only the head of the text is looked at:
 * collapsing all of a long body to keep 250 characters was a visible share of intake's CPU.
 * Each collapsed run keeps at least one character, so the head's collapsed form is the start of
 * the whole's as long as some of it is left after the cut (else the head was all there was).
 */
export function snippetOf(text: string): string {
  let head = SNIPPET_LENGTH * 4;
  for (;;) {
    const collapsed = text.slice(0, head).replace(/\s+/g, ' ').trimStart();
    if (collapsed.length > SNIPPET_LENGTH || head >= text.length)
      return collapsed.trimEnd().slice(0, SNIPPET_LENGTH);
    head *= 4;
  }
}

function tagsOf(parsed: ParsedMail): string[] {
  const header = parsed.headers.get('x-tags');
  if (typeof header !== 'string') return [];
  return [
    ...new Set(
      header
        .split(',')
        .map((tag) => tag.trim())
        .filter((tag) => tag !== ''),
    ),
  ];
}

/** From a parse: complete unless only the header block was parsed. */
export function summarize(envelope: Envelope, parsed: ParsedMail, complete = true): Summary {
  const to = addressList(parsed.to);
  const cc = addressList(parsed.cc);
  const bcc = addressList(parsed.bcc);
  const replyTo = addressList(parsed.replyTo);
  const from = addressList(parsed.from)[0] ?? null;
  const attachments: IndexedAttachment[] = parsed.attachments.map((attachment, index) => ({
    PartID: String(index + 1),
    FileName: attachment.filename ?? '',
    ContentType: attachment.contentType,
    ContentID: (attachment.contentId ?? '').replace(/^<|>$/g, ''),
    Size: attachment.size,
    inline: attachment.related === true || attachment.contentDisposition === 'inline',
  }));
  const text = parsed.text ?? '';
  const addresses = [from, ...to, ...cc, ...bcc, ...replyTo]
    .filter((a): a is MailAddress => a !== null)
    .map((a) => `${a.Name} ${a.Address}`);
  const searchText = [parsed.subject ?? '', ...addresses, text, ...attachments.map((a) => a.FileName)]
    .join('\n')
    .toLowerCase()
    .slice(0, SEARCH_TEXT_LIMIT);
  const date =
    parsed.date && !Number.isNaN(parsed.date.getTime()) ? parsed.date : new Date(envelope.receivedAt);
  return {
    id: envelope.id,
    envelope,
    messageId: (parsed.messageId ?? '').replace(/^<|>$/g, ''),
    from,
    to,
    cc,
    bcc,
    replyTo,
    subject: parsed.subject ?? '',
    date: date.toISOString(),
    created: envelope.receivedAt,
    size: envelope.size,
    attachments,
    snippet: snippetOf(text),
    tags: tagsOf(parsed),
    searchText,
    complete,
    parseError: undefined,
  };
}

/** A message mailparser cannot read: what the envelope says, and why. */
export function summarizeRaw(envelope: Envelope, reason: string, headers?: ParsedMail): Summary {
  const base = headers
    ? summarize(envelope, headers)
    : summarize(envelope, {
        headers: new Map(),
        headerLines: [],
        attachments: [],
        html: false,
      });
  const from = base.from ?? (envelope.mailFrom === '' ? null : { Name: '', Address: envelope.mailFrom });
  const to = base.to.length > 0 ? base.to : envelope.rcptTo.map((r) => ({ Name: '', Address: r.address }));
  return {
    ...base,
    from,
    to,
    searchText: [base.subject, from?.Address ?? '', ...to.map((a) => a.Address)].join('\n').toLowerCase(),
    complete: true,
    parseError: reason,
  };
}

/** Mailpit's MessageSummary, as the list and search endpoints return it. */
export function listItem(message: IndexedMessage) {
  return {
    ID: message.id,
    MessageID: message.messageId,
    Read: message.read,
    From: message.from ?? { Name: '', Address: '' },
    To: message.to,
    Cc: message.cc,
    Bcc: message.bcc,
    ReplyTo: message.replyTo,
    Subject: message.subject,
    Created: message.created,
    Username: message.envelope.authUser ?? '',
    Tags: message.tags,
    Size: message.size,
    Attachments: message.attachments.filter((a) => !a.inline).length,
    Snippet: message.snippet,
  };
}
