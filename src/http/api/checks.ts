import type { DNSResolver } from 'mailauth';
import type { Config } from '../../config/schema.js';
import { stringParam, textError, type Handler } from '../context.js';
import { extractLinks } from '../extract.js';
import { checkLinks } from '../link-check.js';
import { spamCheck } from '../spamassassin.js';
import { thumbnail } from '../thumbnail.js';
import { find } from './message.js';

// mailauth and caniemail cost ~0.6 s of CPU to load, before the server is ready if imported
// statically; they are loaded on the first check instead (most sessions never ask).
const authCheck = () => import('../auth-check.js');
const htmlChecker = () => import('../html-check.js');

/** One resolver per server (its config), made on first use: most sessions never ask. */
const resolvers = new WeakMap<Config, DNSResolver>();

async function resolverFor(config: Config): Promise<DNSResolver> {
  let resolver = resolvers.get(config);
  if (!resolver) {
    resolver = (await authCheck()).authResolver(config.checks);
    resolvers.set(config, resolver);
  }
  return resolver;
}

export const getAuthentication: Handler = async (ctx, request, reply) => {
  const message = find(ctx, request, reply);
  if (!message) return reply;
  const resolver = await resolverFor(ctx.config);
  const { authenticationReport } = await authCheck();
  return authenticationReport(message, ctx.spool.readMessage(message), ctx.config, resolver);
};

/** GET /api/v1/message/{ID}/part/{PartID}/thumb: a 180x120 JPEG, as Mailpit. */
export const getThumbnail: Handler = async (ctx, request, reply) => {
  const message = find(ctx, request, reply);
  if (!message) return reply;
  const partId = stringParam(request.params, 'partId') ?? '';
  const index = message.attachments.findIndex((a) => a.PartID === partId);
  const attachment = (await ctx.sink.parsed(message)).attachments[index];
  if (index < 0 || !attachment) return textError(reply, 404, 'Attachment not found');
  const name = (attachment.filename ?? attachment.contentId ?? 'part').replace(/[^\x20-\x7e]|["\\]/g, '_');
  return reply
    .type('image/jpeg')
    .header('content-disposition', `filename="${name}"`)
    .send(await thumbnail(attachment.content, attachment.contentType));
};

/** GET /api/v1/message/{ID}/link-check?follow=true */
export const linkCheck: Handler = async (ctx, request, reply) => {
  const message = find(ctx, request, reply);
  if (!message) return reply;
  const parsed = await ctx.sink.parsed(message);
  const links = extractLinks(parsed.text ?? '', parsed.html === false ? undefined : parsed.html);
  return checkLinks(links, stringParam(request.query, 'follow') === 'true');
};

/** GET /api/v1/message/{ID}/sa-check: spamd's verdict, or 400 when no spamd is configured. */
export const saCheck: Handler = async (ctx, request, reply) => {
  const address = ctx.config.checks.spamassassin;
  if (address === undefined) return textError(reply, 400, 'SpamAssassin is not enabled');
  const message = find(ctx, request, reply);
  if (!message) return reply;
  return spamCheck(address, ctx.spool.readMessage(message), message.size);
};

/** GET /api/v1/message/{ID}/html-check: 404 for a message without HTML, as Mailpit. */
export const getHtmlCheck: Handler = async (ctx, request, reply) => {
  const message = find(ctx, request, reply);
  if (!message) return reply;
  const parsed = await ctx.sink.parsed(message);
  const html = parsed.html === false ? '' : (parsed.html ?? '');
  if (html === '') return textError(reply, 404, 'This message does not contain a HTML part');
  return (await htmlChecker()).htmlCheck(html);
};
