/**
 * Mailpit's tags API: GET /api/v1/tags, PUT /api/v1/tags {IDs, Tags} (replaces the tags of
 * those messages), PUT /api/v1/tags/{tag} {Name} (rename), DELETE /api/v1/tags/{tag}.
 * Tags are cleaned as Mailpit cleans them (see cleanTag).
 */
import { cleanTag } from '../../sink/tag-rules.js';
import { bodyRecord, ok, stringArray, stringParam, textError, type Handler } from '../context.js';

export const listTags: Handler = (ctx) => Promise.resolve(ctx.sink.tags());

export const setTags: Handler = async (ctx, request, reply) => {
  const body = bodyRecord(request);
  const ids = stringArray(body.IDs);
  if (!ids || ids.length === 0) return textError(reply, 400, 'IDs: a list of message IDs is required');
  const tags = body.Tags === undefined || body.Tags === null ? [] : stringArray(body.Tags);
  if (!tags) return textError(reply, 400, 'Tags: must be a list of strings');
  ctx.sink.setTags(ids, [...new Set(tags.map(cleanTag).filter((tag) => tag !== ''))]);
  return ok(reply);
};

export const renameTag: Handler = async (ctx, request, reply) => {
  const from = stringParam(request.params, 'tag') ?? '';
  const name = bodyRecord(request).Name;
  const to = typeof name === 'string' ? cleanTag(name) : '';
  if (to === '') return textError(reply, 400, 'Name: a new tag name is required');
  ctx.sink.renameTag(from, to);
  return ok(reply);
};

export const deleteTag: Handler = async (ctx, request, reply) => {
  ctx.sink.deleteTag(stringParam(request.params, 'tag') ?? '');
  return ok(reply);
};
