import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import cors from '@fastify/cors';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { verifyPassword } from '../auth/passwords.js';
import { ListenError } from '../listeners/listen-error.js';
import type { Metrics } from '../metrics.js';
import { stringParam, textError, type HttpContext } from './context.js';
import { acceptAnyBodyAsJson, clientError } from './body.js';
import { streamEvents } from './events.js';
import { isBodyTooLarge, refuseUnreadBody } from './refuse-unread-body.js';
import { allowedHostNames, isAllowedHost, localMachineNames } from './host-check.js';
import { originProblem } from './origin-check.js';
import { startWebhook } from './webhook.js';
import { mailboxScope } from './mailbox.js';
import { routes } from './routes.js';
import { isIndexBusy } from '../sink/database.js';
import { SearchSyntaxError } from '../sink/search.js';
import { settlesWithin } from '../util/deadline.js';

const CLOSE_GRACE_MS = 5000;

export interface HttpServer {
  readonly app: FastifyInstance;
  port(): number;
  /** Every method and path registered (under the base path, HEAD left out), as OpenAPI lists them. */
  registeredRoutes(): readonly string[];
  listen(): Promise<void>;
  /** Stops listening; connections still open after `graceMs` are cut. */
  close(graceMs?: number): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/** The UI's own policy: only our scripts, styles and API; message HTML lives in a sandboxed frame. */
const UI_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-src 'self'; object-src 'none'; base-uri 'none'";

/** Remembers credentials that passed scrypt, so Basic auth does not cost 50 ms per request. */
function basicAuthCheck(credentials: { username: string; passwordHash: string }) {
  const accepted = new Set<string>();
  return async (header: string | undefined): Promise<boolean> => {
    if (!header?.startsWith('Basic ')) return false;
    const key = createHash('sha256').update(header).digest('hex');
    if (accepted.has(key)) return true;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const username = decoded.slice(0, colon);
    const expected = Buffer.from(credentials.username);
    const given = Buffer.from(username);
    const nameOk = expected.length === given.length && timingSafeEqual(expected, given);
    const passwordOk = await verifyPassword(decoded.slice(colon + 1), credentials.passwordHash);
    if (colon < 0 || !nameOk || !passwordOk) return false;
    accepted.add(key);
    return true;
  };
}

function noJsonSchema(): never {
  throw new Error('mailwharf routes take no JSON schema (input is checked with zod in the handler)');
}

export async function createHttpServer(
  ctx: HttpContext,
  metrics: Metrics,
  uiDir: string,
): Promise<HttpServer> {
  const settings = ctx.config.http;
  // Mailpit's router collapses repeated slashes: cypress-mailpit asks for //view/ID.html.
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024 * 1024,
    routerOptions: { ignoreDuplicateSlashes: true },
    // No route declares a JSON schema (handlers check input with zod), so fastify's default
    // compilers, ajv and fast-json-stringify (~1 MiB of code), are never loaded: ~30 ms
    // off every start. A route given a schema fails at registration, naming this.
    schemaController: { compilersFactory: { buildValidator: noJsonSchema, buildSerializer: noJsonSchema } },
  });
  await app.register(websocket);
  const prefix = settings.basePath;
  const registered: string[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method !== 'HEAD') registered.push(`${method} ${route.url.slice(prefix.length) || '/'}`);
    }
  });

  // DNS rebinding and cross-site reads: a page elsewhere must not read the mailbox through
  // the browser. Only known Host names are served, whatever the bind address; a WebSocket
  // upgrade or a state-changing request from a foreign page is refused.
  const allowedHosts = allowedHostNames(
    settings.host,
    ctx.config.hostname,
    settings.allowedHosts,
    localMachineNames(),
  );
  const corsOrigins = new Set(settings.cors.map((origin) => new URL(origin).origin));
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!isAllowedHost(request.headers.host, allowedHosts)) {
      return reply.code(403).type('text/plain').send('Forbidden host');
    }
    const problem = originProblem(request, corsOrigins);
    if (problem) return reply.code(403).type('text/plain').send(problem);
  });
  if (corsOrigins.size > 0) await app.register(cors, { origin: [...corsOrigins] });
  acceptAnyBodyAsJson(app);

  if (settings.basicAuth) {
    const check = basicAuthCheck(settings.basicAuth);
    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.url === `${prefix}/livez` || request.url === `${prefix}/readyz`) return;
      if (await check(request.headers.authorization)) return;
      return reply
        .code(401)
        .header('www-authenticate', 'Basic realm="mailwharf"')
        .type('text/plain')
        .send('Unauthorized');
    });
  }
  const countRequest = (request: FastifyRequest, status: number): void => {
    metrics.httpRequests.inc({
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(status),
    });
  };
  app.addHook('onResponse', async (request, reply) => {
    countRequest(request, reply.statusCode);
  });
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof SearchSyntaxError) return textError(reply, 400, error.message);
    if (isBodyTooLarge(error)) {
      // Hijacked, so onResponse does not see it: counted here.
      countRequest(request, 413);
      refuseUnreadBody(request, reply, 'Request body too large');
      return;
    }
    const client = clientError(error);
    if (client) return textError(reply, client.status, client.message);
    if (isIndexBusy(error)) {
      // Another write held the index for the whole wait (a delete of everything, a reindex
      // run by hand): not the client's mistake, and not a fault either. Mailpit's clients retry.
      ctx.log.warn({ url: request.url }, 'sink index busy');
      void reply.header('retry-after', '1');
      return textError(reply, 503, 'The index is busy; try again');
    }
    ctx.log.error(
      { err: error instanceof Error ? error.message : String(error), url: request.url },
      'HTTP handler failed',
    );
    return textError(reply, 500, 'Internal error');
  });

  await app.register(
    (scope, _options, done) => {
      for (const route of routes) {
        scope.route({
          method: route.method,
          url: route.url,
          ...(route.bodyLimit ? { bodyLimit: route.bodyLimit(ctx.config) } : {}),
          handler: (request, reply) => route.handler(ctx, request, reply),
        });
      }
      scope.route({
        method: 'GET',
        url: '/api/events',
        // A plain GET (no upgrade) is the client's mistake: 400, as Mailpit's upgrader answers.
        handler: (_request, reply) => textError(reply, 400, 'Not a WebSocket upgrade'),
        wsHandler: (socket, request) => {
          streamEvents(ctx, socket, mailboxScope(stringParam(request.query, 'mailbox')));
        },
      });
      scope.get('/livez', () => Promise.resolve('ok'));
      scope.get('/readyz', () => Promise.resolve('ok'));
      scope.get('/metrics', async (_request, reply) =>
        reply.type(metrics.registry.contentType).send(await metrics.text()),
      );
      const serveUi = async (file: string, reply: FastifyReply) => {
        const path = normalize(join(uiDir, file));
        if (!path.startsWith(uiDir + sep)) return textError(reply, 404, 'Not found');
        try {
          const body = await readFile(path);
          return await reply
            .type(CONTENT_TYPES[extname(path)] ?? 'application/octet-stream')
            .header('content-security-policy', UI_POLICY)
            .header('x-content-type-options', 'nosniff')
            .header('referrer-policy', 'no-referrer')
            .send(body);
        } catch {
          return textError(
            reply,
            404,
            file === 'index.html' ? 'The web UI is not built: run npm run build' : 'Not found',
          );
        }
      };
      scope.get('/', (request, reply) => {
        // Under a base path, /mail must become /mail/: the page loads ui/app.js relative to itself.
        const [path = '', query] = request.url.split('?', 2);
        if (prefix !== '' && !path.endsWith('/')) {
          return reply.redirect(`${path}/${query === undefined ? '' : `?${query}`}`);
        }
        return serveUi('index.html', reply);
      });
      scope.get('/ui/*', (request, reply) => serveUi(stringParam(request.params, '*') ?? '', reply));
      done();
    },
    { prefix },
  );

  const webhook =
    settings.webhook === undefined ? undefined : startWebhook(settings.webhook, ctx.sink, ctx.log);

  let bound = 0;
  return {
    app,
    port: () => bound,
    registeredRoutes: () => registered,
    async listen() {
      try {
        await app.listen({ host: settings.host, port: settings.port });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const where = `http (${settings.host}:${String(settings.port)})`;
        if (code === 'EADDRINUSE')
          throw new ListenError(
            `${where}: the port is already in use; stop the other server or change http.port`,
          );
        if (code === 'EACCES')
          throw new ListenError(`${where}: no permission to bind; use a port above 1023`);
        throw error;
      }
      bound = (app.server.address() as AddressInfo).port;
      ctx.log.info({ host: settings.host, port: bound, basePath: prefix }, 'HTTP listening');
    },
    async close(graceMs = CLOSE_GRACE_MS) {
      webhook?.stop();
      // Fastify waits for requests in progress and open WebSockets; a client that keeps one
      // open must not hold up a shutdown, so after the grace period every socket is cut.
      const closing = app.close();
      if (!(await settlesWithin(closing, graceMs))) {
        ctx.log.warn({ graceMs }, 'HTTP connections still open at the end of the grace period: closing them');
        app.server.closeAllConnections();
        for (const client of app.websocketServer.clients) client.terminate();
        if (!(await settlesWithin(closing, CLOSE_GRACE_MS))) ctx.log.error('HTTP server did not close');
      }
    },
  };
}
