import { SearchSyntaxError, compileQuery } from '../../sink/search.js';
import type { IndexedMessage } from '../../sink/summary.js';
import { listItem } from '../../sink/summary.js';
import { intParam, stringParam, textError, type Handler } from '../context.js';
import { mailboxScope } from '../mailbox.js';
import { envelopeJson } from '../message-json.js';

/**
 * GET /api/mailwharf/wait?query=…&timeout=ms[&mailbox=…]: the newest message matching,
 * at once if one is here, else the first to arrive; 408 when the timeout passes.
 */
export const wait: Handler = async (ctx, request, reply) => {
  const query = stringParam(request.query, 'query') ?? '';
  const timeout = intParam(request.query, 'timeout', 5000, 300_000);
  const scope = mailboxScope(stringParam(request.query, 'mailbox'));
  let predicate: (m: IndexedMessage) => boolean;
  try {
    const compiled = query.trim() === '' ? () => true : compileQuery(query);
    predicate = (m) => compiled(m) && (!scope || scope(m));
  } catch (error) {
    if (error instanceof SearchSyntaxError) return textError(reply, 400, error.message);
    throw error;
  }
  const respond = (m: IndexedMessage) => ({ ...listItem(m), Envelope: envelopeJson(m) });
  await ctx.sink.settled();
  const existing = ctx.sink.page(query, 0, 1, scope).messages[0];
  if (existing) return respond(existing);
  const found = await new Promise<IndexedMessage | undefined>((resolve) => {
    const timer = setTimeout(() => {
      unsubscribe();
      resolve(undefined);
    }, timeout);
    const unsubscribe = ctx.sink.on((event) => {
      if (event.type !== 'new' || !predicate(event.message)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(event.message);
    });
    request.raw.once('close', () => {
      clearTimeout(timer);
      unsubscribe();
      resolve(undefined);
    });
  });
  if (!found)
    return textError(reply, 408, `No message matching ${JSON.stringify(query)} within ${String(timeout)} ms`);
  return respond(found);
};
