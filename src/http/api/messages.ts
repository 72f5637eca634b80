import { SearchSyntaxError } from '../../sink/search.js';
import { listItem } from '../../sink/summary.js';
import { bodyRecord, intParam, ok, stringArray, stringParam, textError, type Handler } from '../context.js';

function summary(ctx: Parameters<Handler>[0], query: string | undefined, params: unknown) {
  const start = intParam(params, 'start', 0);
  const limit = intParam(params, 'limit', 50, 10_000) || 50;
  const page = ctx.sink.page(query, start, limit, stringParam(params, 'mailbox'));
  const stats = ctx.sink.stats();
  return {
    total: stats.total,
    unread: stats.unread,
    count: page.messages.length,
    messages_count: page.count,
    messages_unread: page.unread,
    start,
    // Every tag in use, not only the page's (as Mailpit).
    tags: ctx.sink.tags(),
    messages: page.messages.map(listItem),
  };
}

export const listMessages: Handler = (ctx, request) =>
  Promise.resolve(summary(ctx, undefined, request.query));

export const search: Handler = async (ctx, request, reply) => {
  const query = stringParam(request.query, 'query')?.trim();
  if (!query) return textError(reply, 400, 'Error: no search query');
  try {
    return summary(ctx, query, request.query);
  } catch (error) {
    if (error instanceof SearchSyntaxError) return textError(reply, 400, error.message);
    throw error;
  }
};

export const deleteSearch: Handler = async (ctx, request, reply) => {
  const query = stringParam(request.query, 'query')?.trim();
  if (!query) return textError(reply, 400, 'Error: no search query');
  try {
    await ctx.sink.delete(ctx.sink.ids(ctx.sink.condition(query, stringParam(request.query, 'mailbox'))));
  } catch (error) {
    if (error instanceof SearchSyntaxError) return textError(reply, 400, error.message);
    throw error;
  }
  return ok(reply);
};

export const setRead: Handler = async (ctx, request, reply) => {
  const body = bodyRecord(request);
  const ids = stringArray(body.IDs) ?? [];
  const searchQuery = typeof body.Search === 'string' ? body.Search.trim() : '';
  if (ids.length > 0 && searchQuery !== '') {
    return textError(reply, 400, 'You may specify either IDs or a search query, not both');
  }
  const read = body.Read === true;
  if (searchQuery !== '') {
    try {
      await ctx.sink.setRead(ctx.sink.ids(ctx.sink.condition(searchQuery)), read);
    } catch (error) {
      if (error instanceof SearchSyntaxError) return textError(reply, 400, error.message);
      throw error;
    }
  } else {
    await ctx.sink.setRead(ids.length > 0 ? ids : undefined, read);
  }
  return ok(reply);
};

export const deleteMessages: Handler = async (ctx, request, reply) => {
  const ids = stringArray(bodyRecord(request).IDs) ?? [];
  const mailbox = stringParam(request.query, 'mailbox');
  if (ids.length > 0) await ctx.sink.delete(ids);
  else if (mailbox !== undefined && mailbox !== '')
    await ctx.sink.delete(ctx.sink.ids(ctx.sink.condition(undefined, mailbox)));
  else await ctx.sink.delete(undefined);
  return ok(reply);
};
