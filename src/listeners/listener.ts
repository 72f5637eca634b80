import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { ListenerConfig, Policy } from '../config/schema.js';
import { injectFault } from '../faults/inject.js';
import { plainAddress } from '../pipeline/networks.js';
import { attachHooks } from '../smtp/library-hooks.js';
import { libraryReplyFor } from '../smtp/library-replies.js';
import { createSessionHandlers, type SessionDeps } from '../smtp/session.js';
import type { TlsMaterial } from '../tls/certificates.js';
import { ListenError } from './listen-error.js';

export interface ListenerDeps extends Omit<SessionDeps, 'listener' | 'policy' | 'boundPort' | 'log'> {
  readonly tls: TlsMaterial;
  readonly minTlsVersion: 'TLSv1.2' | 'TLSv1.3';
  readonly shutdownGraceMs: number;
  readonly log: Logger;
}

/** A port and how it refuses, as a sentence for the operator. */
export { ListenError } from './listen-error.js';

export interface Listener {
  readonly config: ListenerConfig;
  /** The bound port; 0 before listen(). */
  port(): number;
  listen(): Promise<void>;
  close(): Promise<void>;
  updateTls(tls: TlsMaterial): void;
}

/** smtp-server options from a listener record and its policy: the only place they are chosen. */
export function smtpServerOptions(
  listener: ListenerConfig,
  policy: Policy,
  deps: Pick<ListenerDeps, 'hostname' | 'tls' | 'minTlsVersion' | 'shutdownGraceMs'>,
): SMTPServerOptions {
  return {
    name: deps.hostname,
    banner: 'mailwharf',
    secure: listener.tls === 'implicit',
    key: deps.tls.key,
    cert: deps.tls.cert,
    minVersion: deps.minTlsVersion,
    hideSTARTTLS: listener.tls !== 'starttls',
    hideENHANCEDSTATUSCODES: false,
    hideDSN: false,
    size: policy.limits.maxMessageSize,
    hideSize: false,
    authMethods: [...policy.authMechanisms],
    // We decide in the MAIL stage whether AUTH was needed, so the reply comes from policy.
    authOptional: true,
    allowInsecureAuth: !policy.authRequiresTls,
    maxRecipients: policy.limits.maxRecipients,
    socketTimeout: policy.limits.idleTimeoutSeconds * 1000,
    closeTimeout: deps.shutdownGraceMs,
    disableReverseLookup: true,
    useProxy: listener.proxyFrom.length > 0 ? [...listener.proxyFrom] : false,
    logger: false,
  };
}

const DEFAULT_PROXY_TIMEOUT_SECONDS = 5;

export function createListener(config: ListenerConfig, policy: Policy, deps: ListenerDeps): Listener {
  const log = deps.log.child({ listener: config.name });
  let boundPort = 0;
  const handlers = createSessionHandlers({
    ...deps,
    listener: config,
    policy,
    log,
    boundPort: () => boundPort,
  });
  const server = new SMTPServer({ ...smtpServerOptions(config, policy, deps), ...handlers });
  attachHooks(server, {
    greetPauseMs: policy.greetPauseMs,
    // Without faults (always, outside tests) HELO goes on at once.
    beforeHelo: (session) =>
      deps.faults.empty
        ? undefined
        : injectFault(deps.faults, 'ehlo', () => ({}), session).then((outcome) =>
            outcome.kind === 'reply' ? outcome.reply : undefined,
          ),
    rewriteReply: (reply, _session, secure) => libraryReplyFor(policy, reply, secure),
  });
  // Before its PROXY line a balancer's connection is held by smtp-server's pre-session
  // guard, timed with the session's idle timeout (300 s): one that never sends the line
  // would hold a slot that long. Postfix gives it 5 s (smtpd_upstream_proxy_timeout). This
  // listener runs after the library's, so it only shortens the timer the guard armed.
  if (config.proxyFrom.length > 0) {
    const proxyTimeoutMs = (config.proxyTimeoutSeconds ?? DEFAULT_PROXY_TIMEOUT_SECONDS) * 1000;
    server.server.on('connection', (socket: Socket) => {
      if (config.proxyFrom.includes(plainAddress(socket.remoteAddress ?? '')))
        socket.setTimeout(proxyTimeoutMs);
    });
  }
  // A plaintext client on an implicit-TLS port makes the server emit 'error'; unhandled,
  // that would end the process.
  server.on('error', (error: Error) => {
    log.warn({ err: error.message }, 'connection error');
  });

  return {
    config,
    port: () => boundPort,
    listen: () =>
      new Promise<void>((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException): void => {
          reject(listenError(config, error));
        };
        server.server.once('error', onError);
        server.listen(config.port, config.host, () => {
          server.server.removeListener('error', onError);
          boundPort = (server.server.address() as AddressInfo).port;
          log.info({ host: config.host, port: boundPort, tls: config.tls, role: config.role }, 'listening');
          resolve();
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
    updateTls(tls) {
      server.updateSecureContext({ key: tls.key, cert: tls.cert });
    },
  };
}

function listenError(config: ListenerConfig, error: NodeJS.ErrnoException): ListenError {
  const where = `listener "${config.name}" (${config.host}:${config.port})`;
  switch (error.code) {
    case 'EADDRINUSE':
      return new ListenError(
        `${where}: the port is already in use; stop the other server or change its port`,
      );
    case 'EACCES':
      return new ListenError(
        `${where}: no permission to bind; ports below 1024 need root or CAP_NET_BIND_SERVICE ` +
          '(e.g. setcap cap_net_bind_service=+ep "$(command -v node)"), or run with --dev for unprivileged ports',
      );
    case 'EADDRNOTAVAIL':
      return new ListenError(`${where}: the address ${config.host} is not on this machine`);
    default:
      return new ListenError(`${where}: cannot listen: ${error.message}`);
  }
}
