import { faultsFromChaos, chaosFromFaults } from '../chaos.js';
import { bodyRecord, textError, type Handler } from '../context.js';
import { openApiDocument } from '../openapi.js';

export const info: Handler = (ctx) => {
  const stats = ctx.sink.stats();
  const runtime = ctx.runtime();
  return Promise.resolve({
    Version: ctx.version,
    LatestVersion: '',
    Database: ctx.spool.dir,
    DatabaseSize: ctx.sink.totalBytes(),
    Messages: stats.total,
    Unread: stats.unread,
    Tags: ctx.sink.tagCounts(),
    RuntimeStats: {
      Uptime: Math.round((Date.now() - ctx.startedAt) / 1000),
      Memory: process.memoryUsage().rss,
      MessagesDeleted: runtime.messagesDeleted,
      SMTPAccepted: runtime.smtpAccepted,
      SMTPAcceptedSize: runtime.smtpAcceptedSize,
      SMTPRejected: runtime.smtpRejected,
      SMTPIgnored: 0,
    },
  });
};

export const webui: Handler = (ctx) =>
  Promise.resolve({
    Label: ctx.config.hostname,
    MessageRelay: {
      Enabled: ctx.config.release !== undefined,
      SMTPServer: ctx.config.release
        ? `${ctx.config.release.route.host}:${String(ctx.config.release.route.port)}`
        : '',
      AllowedRecipients: ctx.config.release?.allowedDomains.join(',') ?? '',
      BlockedRecipients: '',
      ReturnPath: '',
      OverrideFrom: '',
      PreserveMessageIDs: true,
    },
    SpamAssassin: ctx.config.checks.spamassassin !== undefined,
    ChaosEnabled: ctx.config.faults.enabled,
    DuplicatesIgnored: false,
    HideDeleteAllButton: false,
  });

export const getChaos: Handler = (ctx, _request, reply) => {
  if (!ctx.config.faults.enabled) return Promise.resolve(textError(reply, 400, 'Chaos is not enabled'));
  return Promise.resolve(chaosFromFaults(ctx.faults));
};

export const setChaos: Handler = (ctx, request, reply) => {
  if (!ctx.config.faults.enabled) return Promise.resolve(textError(reply, 400, 'Chaos is not enabled'));
  const problem = faultsFromChaos(ctx.faults, bodyRecord(request));
  if (problem) return Promise.resolve(textError(reply, 400, problem));
  return Promise.resolve(chaosFromFaults(ctx.faults));
};

/** Our OpenAPI document, at Mailpit's address (api/v1/swagger.json) and our own. */
export const openApi: Handler = (ctx) =>
  Promise.resolve(openApiDocument(ctx.config.http.basePath, ctx.version));
