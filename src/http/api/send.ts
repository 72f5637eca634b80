import type { Config } from '../../config/schema.js';
import { bodyRecord, textError, type Handler } from '../context.js';

interface AddressIn {
  readonly Email: string;
  readonly Name?: string;
}

function address(value: unknown): AddressIn | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.Email !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(record.Email)) return undefined;
  return { Email: record.Email, ...(typeof record.Name === 'string' ? { Name: record.Name } : {}) };
}

function addresses(value: unknown, field: string): AddressIn[] | string {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return `Invalid '${field}': must be an array`;
  const out: AddressIn[] = [];
  for (const item of value) {
    const parsed = typeof item === 'string' ? address({ Email: item }) : address(item);
    if (!parsed) return `Invalid '${field}' email address: ${JSON.stringify(item)}`;
    out.push(parsed);
  }
  return out;
}

const formatted = (a: AddressIn) => ({ name: a.Name ?? '', address: a.Email });

/** The largest message any listener takes: mail made over HTTP gets no more room than SMTP. */
export function sendMessageLimit(config: Config): number {
  return Math.max(...Object.values(config.policies).map((policy) => policy.limits.maxMessageSize));
}

/**
 * The JSON body may be a third larger than the message (attachments travel in base64), plus
 * room for the JSON itself; fastify counts it while it streams in and answers 413 past it.
 */
export function sendBodyLimit(config: Config): number {
  return Math.ceil((sendMessageLimit(config) * 4) / 3) + 64 * 1024;
}

/** POST /api/v1/send: Mailpit's JSON message, built into MIME by nodemailer's MailComposer. */
export const send: Handler = async (ctx, request, reply) => {
  const body = bodyRecord(request);
  const from = address(body.From);
  if (!from) return textError(reply, 400, 'No valid sender address found');
  const lists: Record<string, AddressIn[]> = {};
  for (const field of ['To', 'Cc', 'Bcc', 'ReplyTo']) {
    const parsed = addresses(body[field], field);
    if (typeof parsed === 'string') return textError(reply, 400, parsed);
    lists[field] = parsed;
  }
  const to = lists.To ?? [];
  const cc = lists.Cc ?? [];
  const bcc = lists.Bcc ?? [];
  if (to.length + cc.length + bcc.length === 0)
    return textError(reply, 400, 'No valid recipient addresses found');
  const headers: Record<string, string> = {};
  if (typeof body.Headers === 'object' && body.Headers !== null) {
    for (const [key, value] of Object.entries(body.Headers as Record<string, unknown>)) {
      if (typeof value === 'string' && !/[\r\n]/.test(key + value)) headers[key] = value;
    }
  }
  const tags = Array.isArray(body.Tags) ? body.Tags.filter((t): t is string => typeof t === 'string') : [];
  if (tags.length > 0) headers['X-Tags'] = tags.join(', ');
  const attachments = Array.isArray(body.Attachments)
    ? body.Attachments.flatMap((item: unknown) => {
        if (typeof item !== 'object' || item === null) return [];
        const a = item as Record<string, unknown>;
        if (typeof a.Content !== 'string' || typeof a.Filename !== 'string') return [];
        return [
          {
            filename: a.Filename,
            content: Buffer.from(a.Content, 'base64'),
            ...(typeof a.ContentType === 'string' ? { contentType: a.ContentType } : {}),
            ...(typeof a.ContentID === 'string' ? { cid: a.ContentID } : {}),
          },
        ];
      })
    : [];
  // Loaded here, not at start: nodemailer costs ~0.13 s of CPU to load, before the server is ready.
  const { default: MailComposer } = await import('nodemailer/lib/mail-composer');
  const composer = new MailComposer({
    from: formatted(from),
    to: to.map(formatted),
    cc: cc.map(formatted),
    bcc: bcc.map(formatted),
    replyTo: (lists.ReplyTo ?? []).map(formatted),
    subject: typeof body.Subject === 'string' ? body.Subject : '',
    ...(typeof body.Text === 'string' ? { text: body.Text } : {}),
    ...(typeof body.HTML === 'string' ? { html: body.HTML } : {}),
    headers,
    attachments,
    newline: '\r\n',
  });
  const mime = composer.compile();
  // Mailpit shows Bcc on messages sent through the API, so the header is kept.
  mime.keepBcc = true;
  const message = await mime.build();
  const limit = sendMessageLimit(ctx.config);
  if (message.length > limit) {
    return textError(
      reply,
      413,
      `Message too large: ${String(message.length)} bytes, the limit is ${String(limit)}`,
    );
  }
  const envelope = await ctx.store(message, {
    from: from.Email,
    to: [...to, ...cc, ...bcc].map((a) => a.Email),
  });
  // Mailpit's clients fetch the ID they get back at once: answer only once it is indexed.
  await ctx.sink.settled();
  return { ID: envelope.id };
};
