import { SearchSyntaxError, type Condition } from '../../sink/search.js';
import type { IndexedMessage } from '../../sink/summary.js';
import { listItem } from '../../sink/summary.js';
import { intParam, stringParam, textError, type Handler } from '../context.js';
import { envelopeJson } from '../message-json.js';

/**
 * GET /api/mailwharf/wait?query=…&timeout=ms[&mailbox=…]: the newest message matching,
 * at once if one is here, else the first to arrive; 408 when the timeout passes.
 * A message is indexed before its 250, so one whose client has its reply is already here.
 */
export const wait: Handler = async (ctx, request, reply) => {
  const query = stringParam(request.query, 'query') ?? '';
  const timeout = intParam(request.query, 'timeout', 5000, 300_000);
  let where: Condition;
  try {
    where = ctx.sink.condition(query, stringParam(request.query, 'mailbox'));
  } catch (error) {
    if (error instanceof SearchSyntaxError) return textError(reply, 400, error.message);
    throw error;
  }
  const respond = (m: IndexedMessage) => ({ ...listItem(m), Envelope: envelopeJson(m) });
  const found = await new Promise<IndexedMessage | undefined>((resolve) => {
    // Listening before looking: a message indexed between the two is not missed.
    const unsubscribe = ctx.sink.on((event) => {
      if (event.type !== 'new' || !ctx.sink.matches(event.message.id, where)) return;
      finish(event.message);
    });
    const timer = setTimeout(() => {
      finish(undefined);
    }, timeout);
    const finish = (message: IndexedMessage | undefined): void => {
      clearTimeout(timer);
      unsubscribe();
      request.raw.off('close', closed);
      resolve(message);
    };
    const closed = (): void => {
      finish(undefined);
    };
    request.raw.once('close', closed);
    const existing = ctx.sink.page(query, 0, 1, stringParam(request.query, 'mailbox')).messages[0];
    if (existing) finish(existing);
  });
  if (!found)
    return textError(reply, 408, `No message matching ${JSON.stringify(query)} within ${String(timeout)} ms`);
  return respond(found);
};
