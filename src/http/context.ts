import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { FaultRules } from '../faults/rules.js';
import type { Sink } from '../sink/sink.js';
import type { Envelope } from '../spool/envelope.js';
import type { Spool } from '../spool/spool.js';
import type { RuntimeCounters } from './runtime-stats.js';

/** What the HTTP layer may use: passed in, never global, so two servers never share state. */
export interface HttpContext {
  readonly config: Config;
  readonly sink: Sink;
  readonly spool: Spool;
  readonly faults: FaultRules;
  readonly log: Logger;
  readonly startedAt: number;
  readonly version: string;
  /** Counters for info.RuntimeStats since start. */
  runtime(): RuntimeCounters;
  release(id: string, recipients?: readonly string[]): Promise<Envelope>;
  /** Stores a message made by the API (POST /send) as if it had arrived over SMTP. */
  store(message: Buffer, envelope: { from: string; to: readonly string[] }): Promise<Envelope>;
}

export type Handler = (ctx: HttpContext, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly url: string;
  readonly handler: Handler;
  /** A body limit of its own (bytes), from config: POST /send honours maxMessageSize. */
  readonly bodyLimit?: (config: Config) => number;
}

/** Query and params are parsed at the edge: strings in, typed values out. */
export function stringParam(source: unknown, key: string): string | undefined {
  if (typeof source !== 'object' || source === null) return undefined;
  const value = (source as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : undefined;
}

export function intParam(
  source: unknown,
  key: string,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const value = Number(stringParam(source, key));
  return Number.isInteger(value) && value >= 0 ? Math.min(value, max) : fallback;
}

/** Mailpit answers errors as plain text with 400 (404 for a missing message). */
export function textError(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('text/plain; charset=utf-8').send(message);
}

export function ok(reply: FastifyReply): FastifyReply {
  return reply.type('text/plain; charset=utf-8').send('ok');
}

export function bodyRecord(request: FastifyRequest): Record<string, unknown> {
  const body: unknown = request.body;
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : {};
}

export function stringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
}
