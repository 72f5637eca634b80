import type { Handler } from '../context.js';
import { stringParam, textError } from '../context.js';

/**
 * The message's HTML, to be shown in a sandboxed iframe. The CSP forbids scripts, and
 * remote loads unless ?images=1 (the UI's "load remote images"); inline cid: parts and
 * data: images are always allowed.
 */
export function viewPolicy(remoteImages: boolean): string {
  const images = remoteImages ? 'img-src data: cid: http: https:' : 'img-src data: cid:';
  return `default-src 'none'; ${images}; style-src 'unsafe-inline'; font-src data:; sandbox allow-popups allow-popups-to-escape-sandbox`;
}

export const viewHtml: Handler = async (ctx, request, reply) => {
  const id = stringParam(request.params, 'id') ?? '';
  const message = ctx.sink.get(id);
  if (!message) return textError(reply, 404, 'Message not found');
  const parsed = await ctx.sink.parsed(message);
  const html = parsed.html === false ? '' : parsed.html;
  return reply
    .type('text/html; charset=utf-8')
    .header('content-security-policy', viewPolicy(stringParam(request.query, 'images') === '1'))
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .send(html);
};

export const viewText: Handler = async (ctx, request, reply) => {
  const id = stringParam(request.params, 'id') ?? '';
  const message = ctx.sink.get(id);
  if (!message) return textError(reply, 404, 'Message not found');
  const parsed = await ctx.sink.parsed(message);
  return reply.type('text/plain; charset=utf-8').send(parsed.text ?? '');
};
