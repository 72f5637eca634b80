import type { FastifyRequest } from 'fastify';
import { hostOnly } from './host-check.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A page of another origin must not open our event stream nor change state (a text/plain
 * POST needs no CORS preflight). Same-origin pages and the `http.cors` list pass; requests
 * without Origin (curl, test clients) are not from a browser page and pass.
 */
export function originProblem(request: FastifyRequest, corsOrigins: ReadonlySet<string>): string | undefined {
  const origin = request.headers.origin;
  if (origin === undefined) return undefined;
  const upgrade = request.headers.upgrade?.toLowerCase() === 'websocket';
  if (!upgrade && SAFE_METHODS.has(request.method)) return undefined;
  if (corsOrigins.has(origin)) return undefined;
  const originHost = URL.canParse(origin) ? new URL(origin).host.toLowerCase() : '';
  const host = (request.headers.host ?? '').toLowerCase();
  if (originHost !== '' && originHost === host) return undefined;
  return upgrade ? 'Forbidden origin' : `Forbidden origin: ${hostOnly(originHost) || origin}`;
}
