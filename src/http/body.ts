import type { FastifyInstance } from 'fastify';

/** An error fastify answers with its statusCode: the client's mistake, not ours. */
class BodyError extends Error {
  constructor(
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
  }
}

/**
 * Every body the API takes is a JSON object, whatever Content-Type the client claims (Mailpit
 * decodes JSON without looking at it). A form, an empty JSON body or a JSON array is a 400
 * naming the problem, never a 500; a non-object could otherwise read as "no IDs: all messages".
 */
export function acceptAnyBodyAsJson(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (isMessagesForm(request.headers['content-type'], request.routeOptions.url)) {
      done(null, messagesFormFields(text));
      return;
    }
    if (text.trim() === '') {
      done(new BodyError('Empty request body: send a JSON object'));
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      done(new BodyError(`Invalid JSON body: ${(error as Error).message}`));
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      done(new BodyError('Invalid JSON body: expected an object'));
      return;
    }
    done(null, parsed);
  });
}

/**
 * PUT/DELETE /api/v1/messages with a declared form body, as the Python mailpit-api-client
 * sends them (httpx `data=`: `ids=A&ids=B&Read=true`; no ids at all means every message, as
 * its documentation says). Only there: a form anywhere else is still refused above.
 */
function isMessagesForm(contentType: string | undefined, route: string | undefined): boolean {
  return (
    /^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType ?? '') &&
    route !== undefined &&
    route.endsWith('/api/v1/messages')
  );
}

/** Form fields under the names the JSON body uses; field names compare without case, as Go's JSON decoding. */
function messagesFormFields(text: string): Record<string, unknown> {
  const fields = new URLSearchParams(text);
  const record: Record<string, unknown> = {};
  const ids = [...fields].filter(([key]) => key.toLowerCase() === 'ids').map(([, value]) => value);
  if (ids.length > 0) record.IDs = ids;
  for (const [key, value] of fields) {
    if (key.toLowerCase() === 'read') record.Read = value.toLowerCase() === 'true';
    if (key.toLowerCase() === 'search') record.Search = value;
  }
  return record;
}

/** A 4xx raised by fastify or a body parser (too large, bad JSON), or undefined for a real fault. */
export function clientError(error: unknown): { status: number; message: string } | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { statusCode, message } = error as { statusCode?: unknown; message?: unknown };
  if (typeof statusCode !== 'number' || statusCode < 400 || statusCode > 499) return undefined;
  return { status: statusCode, message: typeof message === 'string' ? message : 'Bad request' };
}
