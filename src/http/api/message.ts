import type { FastifyReply, FastifyRequest } from 'fastify';
import { ReleaseError } from '../../delivery/release.js';
import type { IndexedMessage } from '../../sink/summary.js';
import {
  bodyRecord,
  ok,
  stringArray,
  stringParam,
  textError,
  type Handler,
  type HttpContext,
} from '../context.js';
import { extractCodes, extractLinks } from '../extract.js';
import { headerMap } from '../headers.js';
import { startedMessageStream } from '../message-stream.js';
import { envelopeJson, messageJson } from '../message-json.js';

/** The message named by {id} ("latest" honours ?query=), or a 404 sent. */
export function find(
  ctx: HttpContext,
  request: FastifyRequest,
  reply: FastifyReply,
): IndexedMessage | undefined {
  const id = stringParam(request.params, 'id') ?? '';
  const message = ctx.sink.get(id, stringParam(request.query, 'query'));
  if (!message) void textError(reply, 404, id === 'latest' ? 'No messages found' : 'Message not found');
  return message;
}

export const getMessage: Handler = async (ctx, request, reply) => {
  const message = find(ctx, request, reply);
  if (!message) return reply;
  const json = messageJson(message, await ctx.sink.parsed(message));
  // Mailpit's behaviour that clients rely on: fetching a message marks it read.
  await ctx.sink.setRead([message.id], true);
  return json;
};

export const getHeaders: Handler = async (ctx, request, reply) => {
  const message = find(ctx, request, reply);
  if (!message) return reply;
  // Only the header block: the queue file goes on past the message (its envelope trailer).
  return headerMap(await ctx.spool.readHeader(message));
};

export const getRaw: Handler = async (ctx, request, reply) => {
  const message = find(ctx, request, reply);
  if (!message) return reply;
  const bytes = await startedMessageStream(ctx.spool.readMessage(message));
  if (!bytes) return textError(reply, 404, 'Message not found');
  if (stringParam(request.query, 'dl') === '1') {
    void reply.header('content-disposition', `attachment; filename="${message.id}.eml"`);
  }
  return reply.type('text/plain; charset=utf-8').send(bytes);
};

export const getPart: Handler = async (ctx, request, reply) => {
  const message = find(ctx, request, reply);
  if (!message) return reply;
  const partId = stringParam(request.params, 'partId') ?? '';
  const index = message.attachments.findIndex((a) => a.PartID === partId);
  const attachment = (await ctx.sink.parsed(message)).attachments[index];
  if (index < 0 || !attachment) return textError(reply, 404, 'Attachment not found');
  const name = attachment.filename ?? (attachment.contentId ?? 'part').replace(/^<|>$/g, '');
  // RFC 6266: an ASCII fallback plus the UTF-8 name, so any file name can be sent.
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return reply
    .type(attachment.contentType)
    .header(
      'content-disposition',
      `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`,
    )
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; sandbox")
    .send(attachment.content);
};

export const release: Handler = async (ctx, request, reply) => {
  const message = find(ctx, request, reply);
  if (!message) return reply;
  const to = stringArray(bodyRecord(request).To);
  try {
    await ctx.release(message.id, to && to.length > 0 ? to : undefined);
  } catch (error) {
    if (error instanceof ReleaseError) return textError(reply, 400, error.message);
    throw error;
  }
  return ok(reply);
};

export const getEnvelope: Handler = (ctx, request, reply) => {
  const message = find(ctx, request, reply);
  return Promise.resolve(message ? envelopeJson(message) : reply);
};

export const getExtracted: Handler = async (ctx, request, reply) => {
  const message = find(ctx, request, reply);
  if (!message) return reply;
  const parsed = await ctx.sink.parsed(message);
  const text = parsed.text ?? '';
  const html = parsed.html === false ? undefined : parsed.html;
  return {
    ID: message.id,
    Links: extractLinks(text, html),
    Codes: extractCodes(`${message.subject}\n${text}`),
  };
};
