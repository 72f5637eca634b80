/**
 * Our OpenAPI 3 document, written by hand: Mailpit's paths (its published swagger.json, with
 * its parameter names) plus mailwharf's own. Each route the server registers has an entry
 * here, keyed "METHOD path" in OpenAPI form; a test holds the two lists equal.
 */
import { schemas } from './openapi-schemas.js';

interface Parameter {
  readonly name: string;
  readonly in: 'path' | 'query';
  readonly description: string;
  readonly required?: boolean;
  readonly schema?: Readonly<Record<string, unknown>>;
}

interface Operation {
  readonly summary: string;
  readonly tags: readonly string[];
  readonly parameters?: readonly Parameter[];
  /** A components/schemas name for a JSON request body. */
  readonly body?: string;
  readonly responses: Readonly<
    Record<string, string | { readonly description: string; readonly json?: string; readonly type?: string }>
  >;
}

const id: Parameter = {
  name: 'ID',
  in: 'path',
  required: true,
  description: 'Message database ID, or "latest" for the newest message (honours ?query=)',
};
const partId: Parameter = { name: 'PartID', in: 'path', required: true, description: 'Attachment part ID' };
const tag: Parameter = { name: 'Tag', in: 'path', required: true, description: 'The tag' };
const query = (description: string): Parameter => ({ name: 'query', in: 'query', description });
const intQuery = (name: string, description: string): Parameter => ({
  name,
  in: 'query',
  description,
  schema: { type: 'integer' },
});
const paging = [
  intQuery('start', 'Index of the first message (default 0)'),
  intQuery('limit', 'Messages per page (default 50)'),
];
const mailbox: Parameter = { name: 'mailbox', in: 'query', description: 'Only messages to this recipient' };

const ok = { description: 'ok', type: 'text/plain' };
const notFound = 'Message not found';
const badRequest = 'Bad request: the reason, as plain text';
const json = (schema: string) => ({ description: schema, json: schema });

const MAILPIT = ['Mailpit API v1'];
const MAILWHARF = ['mailwharf'];
const SERVER = ['Server'];

export const operations: Readonly<Record<string, Operation>> = {
  'GET /api/v1/messages': {
    summary: 'List messages, newest first',
    tags: MAILPIT,
    parameters: paging,
    responses: { 200: json('MessagesSummary') },
  },
  'PUT /api/v1/messages': {
    summary: 'Set the read status of messages (by IDs, by Search, or all)',
    tags: MAILPIT,
    body: 'SelectedMessages',
    responses: { 200: ok, 400: badRequest },
  },
  'DELETE /api/v1/messages': {
    summary: 'Delete messages by IDs, or all with no IDs',
    tags: MAILPIT,
    body: 'SelectedMessages',
    responses: { 200: ok, 400: badRequest },
  },
  'GET /api/v1/search': {
    summary: 'Search messages (Mailpit search syntax)',
    tags: MAILPIT,
    parameters: [{ ...query('Search query'), required: true }, ...paging, intQuery('tz', 'Ignored')],
    responses: { 200: json('MessagesSummary'), 400: badRequest },
  },
  'DELETE /api/v1/search': {
    summary: 'Delete the messages a search matches',
    tags: MAILPIT,
    parameters: [{ ...query('Search query'), required: true }],
    responses: { 200: ok, 400: badRequest },
  },
  'GET /api/v1/message/{ID}': {
    summary: 'A message in full (marks it read)',
    tags: MAILPIT,
    parameters: [id],
    responses: { 200: json('Message'), 404: notFound },
  },
  'GET /api/v1/message/{ID}/headers': {
    summary: 'The message headers',
    tags: MAILPIT,
    parameters: [id],
    responses: { 200: json('MessageHeaders'), 404: notFound },
  },
  'GET /api/v1/message/{ID}/raw': {
    summary: 'The message source',
    tags: MAILPIT,
    parameters: [id, { name: 'dl', in: 'query', description: '1: as a download' }],
    responses: { 200: { description: 'The message', type: 'text/plain' }, 404: notFound },
  },
  'GET /api/v1/message/{ID}/part/{PartID}': {
    summary: 'An attachment or inline part',
    tags: MAILPIT,
    parameters: [id, partId],
    responses: { 200: { description: 'The part', type: 'application/octet-stream' }, 404: notFound },
  },
  'GET /api/v1/message/{ID}/part/{PartID}/thumb': {
    summary: 'A 180x120 JPEG thumbnail of an image attachment',
    tags: MAILPIT,
    parameters: [id, partId],
    responses: { 200: { description: 'The thumbnail', type: 'image/jpeg' }, 404: notFound },
  },
  'GET /api/v1/message/{ID}/html-check': {
    summary: 'HTML and CSS support across mail clients (the caniemail data set)',
    tags: MAILPIT,
    parameters: [id],
    responses: { 200: json('HTMLCheckResponse'), 404: 'Message not found, or it has no HTML part' },
  },
  'GET /api/v1/message/{ID}/link-check': {
    summary: 'Request every link in the message and report its status',
    tags: MAILPIT,
    parameters: [id, { name: 'follow', in: 'query', description: 'true: follow redirects' }],
    responses: { 200: json('LinkCheckResponse'), 404: notFound },
  },
  'GET /api/v1/message/{ID}/sa-check': {
    summary: 'SpamAssassin’s verdict from spamd (checks.spamassassin)',
    tags: MAILPIT,
    parameters: [id],
    responses: { 200: json('SpamAssassinResponse'), 400: 'SpamAssassin is not enabled', 404: notFound },
  },
  'POST /api/v1/message/{ID}/release': {
    summary: 'Release (relay) a message to recipients allowed by release.allowedDomains',
    tags: MAILPIT,
    parameters: [id],
    body: 'ReleaseMessage',
    responses: { 200: ok, 400: badRequest, 404: notFound },
  },
  'POST /api/v1/send': {
    summary: 'Make a message from JSON and store it (never relayed)',
    tags: MAILPIT,
    body: 'SendMessage',
    responses: { 200: json('SendMessageConfirmation'), 400: badRequest, 413: 'Over maxMessageSize' },
  },
  'GET /api/v1/tags': {
    summary: 'Every tag in use',
    tags: MAILPIT,
    responses: { 200: { description: 'Tag names', json: 'TagList' } },
  },
  'PUT /api/v1/tags': {
    summary: 'Replace the tags of messages',
    tags: MAILPIT,
    body: 'SetTags',
    responses: { 200: ok, 400: badRequest },
  },
  'PUT /api/v1/tags/{Tag}': {
    summary: 'Rename a tag',
    tags: MAILPIT,
    parameters: [tag],
    body: 'RenameTag',
    responses: { 200: ok, 400: badRequest },
  },
  'DELETE /api/v1/tags/{Tag}': {
    summary: 'Remove a tag from every message',
    tags: MAILPIT,
    parameters: [tag],
    responses: { 200: ok },
  },
  'GET /api/v1/info': {
    summary: 'Server information and runtime counters',
    tags: MAILPIT,
    responses: { 200: json('AppInformation') },
  },
  'GET /api/v1/webui': {
    summary: 'What the web UI needs to know (relay, SpamAssassin, chaos)',
    tags: MAILPIT,
    responses: { 200: json('WebUIConfiguration') },
  },
  'GET /api/v1/chaos': {
    summary: 'The chaos triggers (fault rules in Mailpit’s form)',
    tags: MAILPIT,
    responses: { 200: json('ChaosTriggers'), 400: 'Chaos is not enabled (faults.enabled)' },
  },
  'PUT /api/v1/chaos': {
    summary: 'Set the chaos triggers',
    tags: MAILPIT,
    body: 'ChaosTriggers',
    responses: { 200: json('ChaosTriggers'), 400: badRequest },
  },
  'GET /api/v1/swagger.json': {
    summary: 'This document (at Mailpit’s address)',
    tags: SERVER,
    responses: { 200: { description: 'OpenAPI 3 document', type: 'application/json' } },
  },
  'GET /view/{ID}.html': {
    summary: 'The message HTML, for a browser',
    tags: MAILPIT,
    parameters: [id, { name: 'images', in: 'query', description: '1: load remote images' }],
    responses: { 200: { description: 'HTML', type: 'text/html' }, 404: notFound },
  },
  'GET /view/{ID}.txt': {
    summary: 'The message text',
    tags: MAILPIT,
    parameters: [id],
    responses: { 200: { description: 'Text', type: 'text/plain' }, 404: notFound },
  },
  'GET /api/events': {
    summary: 'WebSocket: new, update, delete, truncate and stats events (Mailpit’s)',
    tags: MAILPIT,
    parameters: [mailbox],
    responses: { 101: 'Switching to WebSocket', 400: 'Not a WebSocket upgrade' },
  },
  'GET /api/mailwharf/wait': {
    summary: 'The newest message matching a search, or the first to arrive (long poll)',
    tags: MAILWHARF,
    parameters: [query('Search query'), intQuery('timeout', 'Milliseconds to wait (default 5000)'), mailbox],
    responses: { 200: json('WaitResult'), 400: badRequest, 408: 'Nothing arrived in time' },
  },
  'GET /api/mailwharf/message/{ID}/envelope': {
    summary: 'What the SMTP session knew: MAIL FROM, RCPT TO, HELO, client, TLS, AUTH',
    tags: MAILWHARF,
    parameters: [id],
    responses: { 200: json('Envelope'), 404: notFound },
  },
  'GET /api/mailwharf/message/{ID}/extract': {
    summary: 'Links and one-time codes found in the message',
    tags: MAILWHARF,
    parameters: [id],
    responses: { 200: json('Extracted'), 404: notFound },
  },
  'GET /api/mailwharf/message/{ID}/auth': {
    summary: 'DKIM, SPF, DMARC and ARC as a receiver would judge them',
    tags: MAILWHARF,
    parameters: [id],
    responses: { 200: json('AuthenticationReport'), 404: notFound },
  },
  'GET /api/mailwharf/faults': {
    summary: 'The active fault rules',
    tags: MAILWHARF,
    responses: { 200: { description: 'Rules', json: 'FaultRuleList' } },
  },
  'POST /api/mailwharf/faults': {
    summary: 'Add a fault rule (faults.enabled)',
    tags: MAILWHARF,
    body: 'FaultRule',
    responses: { 200: { description: 'The rule’s ID', json: 'SendMessageConfirmation' }, 400: badRequest },
  },
  'DELETE /api/mailwharf/faults': {
    summary: 'Remove every fault rule',
    tags: MAILWHARF,
    responses: { 200: ok },
  },
  'GET /api/mailwharf/openapi.json': {
    summary: 'This document',
    tags: SERVER,
    responses: { 200: { description: 'OpenAPI 3 document', type: 'application/json' } },
  },
  'GET /livez': { summary: 'Liveness', tags: SERVER, responses: { 200: ok } },
  'GET /readyz': { summary: 'Readiness', tags: SERVER, responses: { 200: ok } },
  'GET /metrics': {
    summary: 'Prometheus metrics',
    tags: SERVER,
    responses: { 200: { description: 'Metrics', type: 'text/plain' } },
  },
  'GET /': {
    summary: 'The web UI',
    tags: SERVER,
    responses: { 200: { description: 'The page', type: 'text/html' } },
  },
  'GET /ui/{File}': {
    summary: 'The web UI’s scripts, styles and images',
    tags: SERVER,
    parameters: [{ name: 'File', in: 'path', required: true, description: 'File under the UI directory' }],
    responses: { 200: 'The file', 404: 'Not found' },
  },
};

/** Fastify's route form to OpenAPI's, with Mailpit's parameter names: /message/:id → /message/{ID}. */
export function openApiPath(url: string): string {
  const names: Record<string, string> = { id: 'ID', partId: 'PartID', tag: 'Tag', '*': 'File' };
  return url.replace(
    /:(\w+)|\*/g,
    (whole: string, name: string | undefined) => `{${names[name ?? whole] ?? name ?? whole}}`,
  );
}

function operationJson(operation: Operation) {
  const responses = Object.fromEntries(
    Object.entries(operation.responses).map(([status, response]) => {
      if (typeof response === 'string') return [status, { description: response }];
      const content = response.json
        ? { 'application/json': { schema: responseSchema(response.json) } }
        : response.type
          ? { [response.type]: {} }
          : undefined;
      return [status, { description: response.description, ...(content ? { content } : {}) }];
    }),
  );
  return {
    summary: operation.summary,
    tags: operation.tags,
    ...(operation.parameters
      ? { parameters: operation.parameters.map((p) => ({ schema: { type: 'string' }, ...p })) }
      : {}),
    ...(operation.body
      ? {
          requestBody: {
            content: { 'application/json': { schema: { $ref: `#/components/schemas/${operation.body}` } } },
          },
        }
      : {}),
    responses,
  };
}

function responseSchema(name: string) {
  if (name === 'TagList') return { type: 'array', items: { type: 'string' } };
  if (name === 'FaultRuleList') return { type: 'array', items: { $ref: '#/components/schemas/FaultRule' } };
  return { $ref: `#/components/schemas/${name}` };
}

/** The document for a server under this base path ('' or '/mail'). */
export function openApiDocument(basePath: string, version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [key, operation] of Object.entries(operations)) {
    const [method = '', path = ''] = key.split(' ');
    paths[path] = { ...paths[path], [method.toLowerCase()]: operationJson(operation) };
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'mailwharf',
      version,
      description:
        'Mailpit’s API v1 (same paths, shapes and status codes) plus mailwharf’s extensions under /api/mailwharf. Errors are plain text.',
    },
    servers: [{ url: basePath === '' ? '/' : basePath }],
    paths,
    components: { schemas },
  };
}
