import { createHash } from 'node:crypto';
import type { Attachment, ParsedMail } from 'mailparser';
import type { IndexedMessage } from '../sink/summary.js';

function attachmentJson(attachment: Attachment, partId: string) {
  const digest = (algorithm: string) => createHash(algorithm).update(attachment.content).digest('hex');
  return {
    PartID: partId,
    FileName: attachment.filename ?? '',
    ContentType: attachment.contentType,
    ContentID: (attachment.contentId ?? '').replace(/^<|>$/g, ''),
    Size: attachment.size,
    Checksums: { MD5: digest('md5'), SHA1: digest('sha1'), SHA256: digest('sha256') },
  };
}

/**
 * A header's unfolded text from the raw lines: mailparser turns List-Unsubscribe into an
 * object of parsed URLs, which is not what Mailpit shows.
 */
function rawHeader(parsed: ParsedMail, name: string): string {
  const line = parsed.headerLines.find((entry) => entry.key === name)?.line ?? '';
  return line
    .slice(line.indexOf(':') + 1)
    .replace(/\r?\n[ \t]+/g, ' ')
    .trim();
}

/** Mailpit's Message (GET /api/v1/message/{ID}). */
export function messageJson(message: IndexedMessage, parsed: ParsedMail) {
  const parts = parsed.attachments.map((attachment, index) => ({
    attachment,
    info: message.attachments[index],
  }));
  const header = rawHeader(parsed, 'list-unsubscribe');
  return {
    ID: message.id,
    MessageID: message.messageId,
    // Opening marks it read. Mailpit dropped this field; clients written before (the Python
    // mailpit-api-client's Message model) still require it.
    Read: true,
    From: message.from ?? { Name: '', Address: '' },
    To: message.to,
    Cc: message.cc,
    Bcc: message.bcc,
    ReplyTo: message.replyTo,
    ReturnPath: message.envelope.mailFrom,
    Subject: message.subject,
    ListUnsubscribe: {
      Header: header,
      Links: [...header.matchAll(/<([^>]+)>/g)].map((m) => m[1] ?? ''),
      Errors: '',
      HeaderPost: rawHeader(parsed, 'list-unsubscribe-post'),
    },
    Date: message.date,
    Tags: message.tags,
    Username: message.envelope.authUser ?? '',
    Text: parsed.text ?? '',
    HTML: parsed.html === false ? '' : parsed.html,
    Size: message.size,
    Inline: parts
      .filter((p) => p.info?.inline === true)
      .map((p) => attachmentJson(p.attachment, p.info?.PartID ?? '')),
    Attachments: parts
      .filter((p) => p.info?.inline !== true)
      .map((p) => attachmentJson(p.attachment, p.info?.PartID ?? '')),
  };
}

/** Our extension: what the SMTP session knew (Mailpit has no envelope). */
export function envelopeJson(message: IndexedMessage) {
  const e = message.envelope;
  return {
    ID: message.id,
    MailFrom: e.mailFrom,
    RcptTo: e.rcptTo.map((r) => r.address),
    Helo: e.client.helo,
    ClientAddress: e.client.address,
    ClientPort: e.client.port,
    Listener: e.listener.name,
    ListenerPort: e.listener.port,
    TLS: e.tls ? { Version: e.tls.version, Cipher: e.tls.cipher } : null,
    AuthUser: e.authUser ?? null,
    ReceivedAt: e.receivedAt,
    SMTPUTF8: e.smtputf8,
    /** Why mailparser could not read the message (it is shown from its envelope and raw source). */
    ParseError: message.parseError ?? null,
  };
}
