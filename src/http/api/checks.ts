import type { DNSResolver } from 'mailauth';
import type { Config } from '../../config/schema.js';
import { authenticationReport, authResolver } from '../auth-check.js';
import type { Handler } from '../context.js';
import { find } from './message.js';

/** One resolver per server (its config), made on first use: most sessions never ask. */
const resolvers = new WeakMap<Config, DNSResolver>();

function resolverFor(config: Config): DNSResolver {
  let resolver = resolvers.get(config);
  if (!resolver) {
    resolver = authResolver(config.checks);
    resolvers.set(config, resolver);
  }
  return resolver;
}

export const getAuthentication: Handler = async (ctx, request, reply) => {
  const message = find(ctx, request, reply);
  if (!message) return reply;
  return authenticationReport(message, ctx.spool.readMessage(message), ctx.config, resolverFor(ctx.config));
};
