/**
 * The places where mailwharf changes smtp-server's own behaviour rather than
 * configuring it. All depend on the library's internals, so the version is pinned
 * exactly in package.json and test/e2e/library-hooks.test.ts fails loudly when an
 * upgrade breaks one:
 *
 * 1. The greeting pause. SMTPConnection.init() waits a fixed 100 ms before the 220
 *    greeting (early-talker detection). We make it the listener's `greetPauseMs`.
 * 2. Reply rendering. With enhanced status codes on, send() derives the enhanced code
 *    from the basic one (any 550 becomes 5.1.1). Replies from our catalogue already
 *    carry their enhanced code and are written as they are; the library's own replies
 *    go through the listener's `rewriteReply`, which may swap in a catalogue reply.
 * 3. A hook before HELO/EHLO (the library has no onHelo), for fault injection, and a
 *    way to drop a session's connection without a reply.
 * 4. The TLS protocol a session negotiated. The library gives only session.tlsOptions,
 *    tls.getCipher(), whose `version` is the oldest protocol the cipher suite exists in
 *    ("TLSv1.0" for ECDHE-ECDSA-AES128-SHA even inside TLS 1.2), not the protocol in use;
 *    the connection's socket knows the real one.
 * 5. Pipelined replies in one write. send() writes every reply on its own; replies made while
 *    one read is handled (MAIL, RCPT and DATA of a pipelined transaction, RFC 2920) are
 *    corked and leave in one write, as Postfix flushes only when its input is
 *    drained. Only replies to commands that may have more of their group behind them: not
 *    to EHLO or QUIT, not DATA's 354 (each ends its group), not the 220s (a TLS handshake
 *    follows STARTTLS's on the same socket) and not 421 (the connection closes after it).
 *    After QUIT's 221 the socket closes without waiting for the client's FIN.
 *
 * 5. Address paths. The library splits MAIL/RCPT at spaces and '@', so a quoted local part
 *    ("john smith"@example.test, valid RFC 5321) is refused with 501, and it strips a
 *    source route without saying so. The path is read first (src/smtp/path.ts): a quoted
 *    local part goes through the library's checks with a stand-in and is put back after,
 *    and every parsed address carries its PathForm (pathFormOf) so policy can see routing.
 * 6. SIZE= values of more than 20 digits: the library answers 501 (syntax); such a size is
 *    well-formed, only larger than any limit, so it gets the 552 of any SIZE over the limit.
 * 7. TLS renegotiation. Client-initiated renegotiation is a full handshake on demand (CPU
 *    for free, testssl's "Secure Client-Initiated Renegotiation VULNERABLE"), and Node allows
 *    3 per 10 minutes on every server socket. disableRenegotiation() only reports the attempt
 *    as '_tlsError', which reaches 'error' only on sockets a tls.Server made; smtp-server
 *    wraps sockets itself, so nothing would stop the handshake. We end the connection.
 * 8. Connection control for the listener's defence (src/pipeline/stress.ts): when a client
 *    last sent a command, whether it owes us input, an idle timeout that can change while
 *    the session runs (the library reads one value from its options), and closing with a
 *    reply of ours (an evicted idle client, a DATA too slow).
 *
 * 9. Session ids. For each connection the library draws 80 bits with crypto.randomBytes and
 *    formats them through a hex string and a BigInt (about 14 µs, one native call and a getpid
 *    per connection in the intake profile). Ours are as random and look the same (16 base-32
 *    digits), drawn from a pooled buffer. Connections that owe a PROXY header keep the
 *    library's path.
 *
 * Servers without hooks attached keep the library's behaviour untouched.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { randomBits40 } from '../util/random-bits.js';
import { pathForm, splitCommandPath, type PathForm } from './path.js';
import { hasEnhancedCode, replyText, type SmtpReply } from './replies.js';

export const PATCHED_SMTP_SERVER_VERSION = '3.21.6';

export interface LibraryReply {
  readonly code: number;
  readonly text: string;
  readonly context: string | false | undefined;
}

export interface ServerHooks {
  readonly greetPauseMs: number;
  /**
   * Asked before HELO/EHLO is handled; a reply refuses it (used by fault injection). Undefined
   * instead of a promise goes on at once, without a turn through the microtask queue.
   */
  readonly beforeHelo?: (session: SMTPServerSession) => Promise<SmtpReply | undefined> | undefined;
  /** Returns the catalogue reply to send instead of a library reply, or undefined to keep it. */
  readonly rewriteReply: (
    reply: LibraryReply,
    session: SMTPServerSession,
    secure: boolean,
  ) => SmtpReply | undefined;
}

const hooksByServer = new WeakMap<SMTPServer, ServerHooks>();
/** The connection behind a session, so a fault can drop it without a reply. */
const connectionBySession = new WeakMap<SMTPServerSession, SMTPConnection>();

/**
 * Refuses client-initiated renegotiation on a server TLS socket: the attempt ends the
 * connection. Postfix does the same (OpenSSL's SSL_OP_NO_RENEGOTIATION).
 */
export function refuseRenegotiation(socket: TLSSocket): void {
  socket.disableRenegotiation();
  socket.on('_tlsError', () => {
    socket.destroy();
  });
}

/** The form of each address the library parsed: quoted, routed. */
const pathForms = new WeakMap<object, PathForm>();

/** How the client wrote an address of MAIL FROM or RCPT TO; undefined for the null path. */
export function pathFormOf(address: object): PathForm | undefined {
  return pathForms.get(address);
}

/** Per connection: when the client last sent a command, and its own idle timeout. */
const lastCommandAt = new WeakMap<SMTPConnection, number>();
const idleTimeouts = new WeakMap<SMTPConnection, number>();

export interface ConnectionControl {
  /** When the client last sent a command line (or connected), in Date.now() ms. */
  idleSince(): number;
  /** True while we wait for the client: no handler of ours running, not inside DATA. */
  waitingForClient(): boolean;
  /** The idle timeout from now on, the running one included. */
  setIdleTimeout(ms: number): void;
  /** Sends a reply of ours and closes the connection. */
  closeWith(reply: SmtpReply): void;
}

/** On the prototype, not closures: one is made per connection. */
class LibraryConnectionControl implements ConnectionControl {
  constructor(private readonly connection: SMTPConnection) {}

  idleSince(): number {
    return lastCommandAt.get(this.connection) ?? Date.now();
  }

  waitingForClient(): boolean {
    return !this.connection._handlerPending && !this.connection._dataStream;
  }

  setIdleTimeout(ms: number): void {
    idleTimeouts.set(this.connection, ms);
    // Without a callback: the duration changes, the library's one 'timeout' listener stays.
    if (!this.connection._socket.destroyed) this.connection._socket.setTimeout(ms);
  }

  closeWith(reply: SmtpReply): void {
    if (this.connection._socket.destroyed) return;
    this.connection.send(reply.code, replyText(reply), false);
    this.connection.close();
  }
}

export function connectionControl(session: SMTPServerSession): ConnectionControl | undefined {
  const connection = connectionBySession.get(session);
  return connection ? new LibraryConnectionControl(connection) : undefined;
}

/** Closes the client's connection at once, without a reply. */
export function dropConnection(session: SMTPServerSession): void {
  const connection = connectionBySession.get(session);
  connection?._socket.destroy();
}

/** The TLS protocol negotiated on a session's connection, e.g. "TLSv1.2"; undefined in cleartext. */
export function negotiatedTlsProtocol(session: SMTPServerSession): string | undefined {
  const socket = connectionBySession.get(session)?._socket;
  return socket instanceof TLSSocket ? (socket.getProtocol() ?? undefined) : undefined;
}

export function attachHooks(server: SMTPServer, hooks: ServerHooks): void {
  installPatches();
  hooksByServer.set(server, hooks);
}

/** Sockets corked until the event loop's check phase, after every reply of this turn. */
const corkedSockets = new WeakSet<Socket>();

/**
 * The commands a pipelining client may follow with more of the same group (RFC 2920 §3.1),
 * and DATA for the reply at the end of the message, which a client may follow with the next
 * MAIL or QUIT. Replies to the others (EHLO, HELO, DATA's 354, QUIT, NOOP…) close their group:
 * nothing else of this turn can join them, so they leave at once, without waiting for the
 * event loop's check phase.
 */
const MID_GROUP_VERBS = new Set(['MAIL', 'RCPT', 'RSET', 'DATA']);
/** Per connection: whether the command being answered may have more of its group behind it. */
const answeringMidGroup = new WeakMap<SMTPConnection, boolean>();

function verbOf(command: Buffer): string {
  return command.toString('latin1', 0, 4).toUpperCase();
}

function batchReplies(socket: Socket, code: number): void {
  if (
    code === 220 ||
    code === 221 ||
    code === 354 ||
    code === 421 ||
    socket.destroyed ||
    corkedSockets.has(socket)
  )
    return;
  corkedSockets.add(socket);
  socket.cork();
  // A microtask, run once the read that brought the commands has been handled: the library
  // runs the commands of one read one after the other while their handlers answer at once
  // (ours do for MAIL, RCPT and RSET), so a pipelined group's replies are all corked by then.
  // Waiting for the check phase (setImmediate) cost every unpipelined reply a loop turn.
  queueMicrotask(() => {
    corkedSockets.delete(socket);
    socket.uncork();
  });
}

/** 80 random bits as 16 base-32 digits, the form of the library's own session ids. */
export function newSessionId(): string {
  return randomBits40().toString(32).padStart(8, '0') + randomBits40().toString(32).padStart(8, '0');
}

/**
 * After QUIT's 221 has left (our FIN sent), the socket closes without waiting for the
 * client's FIN, as Postfix's smtpd closes after its 221: a client that resets its end at once
 * (smtp-source does) would otherwise cost a read error, its stack trace and a destroy path per
 * connection, and a slow one would hold the descriptor until it closes. Input pipelined after
 * QUIT is never answered either way.
 */
function destroyAfterFinish(this: Socket): void {
  this.destroy();
}

let installed = false;

function installPatches(): void {
  if (installed) return;
  installed = true;
  const serverProto = SMTPServer.prototype;
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const originalHandleProxy = serverProto._handleProxy;
  serverProto._handleProxy = function handleProxy(this: SMTPServer, socket, callback): void {
    if (!hooksByServer.has(this) || this._expectsProxyHeader(socket)) {
      originalHandleProxy.call(this, socket, callback);
      return;
    }
    // The library's path for a connection without a PROXY header, but for the id, and at
    // once: the library waits for setImmediate, a turn of the event loop between accept and
    // the greeting in which the socket has no 'error' listener yet.
    const ignore = this.options.ignoredHosts?.includes(socket.remoteAddress ?? '') ?? false;
    callback(null, { id: newSessionId(), ignore });
  };

  const proto = SMTPConnection.prototype;
  // Kept to be called with .call(this, ...) on the connection; never detached from it.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const originalInit = proto.init;
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const originalSend = proto.send;
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const originalEhlo = proto.handler_EHLO;
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const originalHelo = proto.handler_HELO;
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const originalQuit = proto.handler_QUIT;
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const originalParseAddress = proto._parseAddressCommand;
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const originalValidateMail = proto._validateMailParams;

  // eslint-disable-next-line @typescript-eslint/unbound-method
  const originalOnCommand = proto._onCommand;
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const originalArmTimeout = proto._armTimeout;

  proto._onCommand = function onCommand(this: SMTPConnection, command: Buffer, callback?: () => void): void {
    lastCommandAt.set(this, Date.now());
    answeringMidGroup.set(this, MID_GROUP_VERBS.has(verbOf(command)));
    originalOnCommand.call(this, command, callback);
  };

  proto._armTimeout = function armTimeout(
    this: SMTPConnection,
    socket?: Parameters<typeof originalArmTimeout>[0],
  ): void {
    const ms = idleTimeouts.get(this);
    if (ms === undefined) {
      originalArmTimeout.call(this, socket);
      return;
    }
    (socket ?? this._socket).setTimeout(ms, () => {
      this._onTimeout();
    });
  };

  proto._parseAddressCommand = function parseAddressCommand(
    this: SMTPConnection,
    rawName: string,
    rawCommand: Buffer | string,
  ): ReturnType<typeof originalParseAddress> {
    if (!hooksByServer.has(this._server)) return originalParseAddress.call(this, rawName, rawCommand);
    const line = rawCommand.toString();
    const split = splitCommandPath(line);
    const form = split ? pathForm(split.path) : undefined;
    if (!split || !form) return originalParseAddress.call(this, rawName, rawCommand);
    let parsed: ReturnType<typeof originalParseAddress>;
    if (form.quoted) {
      const verb = line.slice(0, line.indexOf(':'));
      const route = form.sourceRoute === undefined ? '' : `${form.sourceRoute}:`;
      const params = split.params === '' ? '' : ` ${split.params}`;
      parsed = originalParseAddress.call(this, rawName, `${verb}:<${route}quoted@${form.domain}>${params}`);
      if (parsed && parsed.address) {
        parsed.address = `${form.localPart}${parsed.address.slice(parsed.address.lastIndexOf('@'))}`;
      }
    } else {
      parsed = originalParseAddress.call(this, rawName, rawCommand);
    }
    if (parsed) pathForms.set(parsed, form);
    return parsed;
  };

  proto._validateMailParams = function validateMailParams(
    this: SMTPConnection,
    parsed: Parameters<typeof originalValidateMail>[0],
  ): ReturnType<typeof originalValidateMail> {
    const size = parsed.args === false ? undefined : parsed.args.SIZE;
    if (hooksByServer.has(this._server) && typeof size === 'string' && /^\d{21,}$/.test(size)) {
      return {
        code: 552,
        message: 'Message size exceeds fixed maximum message size',
        enhancedCode: 'MESSAGE_TOO_BIG',
      };
    }
    return originalValidateMail.call(this, parsed);
  };

  proto.init = function init(this: SMTPConnection): void {
    const hooks = hooksByServer.get(this._server);
    if (!hooks) {
      originalInit.call(this);
      return;
    }
    connectionBySession.set(this.session, this);
    lastCommandAt.set(this, Date.now());
    // The library's init() with the pause taken from policy instead of a fixed 100 ms.
    this._setListeners(() => {
      const maxClients = this._server.options.maxClients;
      if (maxClients && this._server.connections.size > maxClients) {
        this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
        return;
      }
      if (hooks.greetPauseMs === 0) {
        this.connectionReady();
        return;
      }
      setTimeout(() => {
        this.connectionReady();
      }, hooks.greetPauseMs).unref();
    });
  };

  const withBeforeHelo = (original: typeof originalEhlo): typeof originalEhlo =>
    function handler(this: SMTPConnection, command: Buffer, callback: () => void): void {
      const asked = hooksByServer.get(this._server)?.beforeHelo?.(this.session);
      if (!asked) {
        original.call(this, command, callback);
        return;
      }
      asked.then(
        (reply) => {
          if (reply) {
            this.send(reply.code, replyText(reply), false);
            callback();
          } else {
            original.call(this, command, callback);
          }
        },
        () => {
          original.call(this, command, callback);
        },
      );
    };
  proto.handler_QUIT = function handleQuit(
    this: SMTPConnection,
    command: Buffer,
    callback: () => void,
  ): void {
    const socket = this._socket;
    originalQuit.call(this, command, callback);
    if (hooksByServer.has(this._server) && !socket.destroyed) socket.once('finish', destroyAfterFinish);
  };
  proto.handler_EHLO = withBeforeHelo(originalEhlo);
  proto.handler_HELO = withBeforeHelo(originalHelo);

  proto.send = function send(
    this: SMTPConnection,
    code: number,
    data?: string | string[] | null,
    context?: string | false,
  ): void {
    const hooks = hooksByServer.get(this._server);
    if (hooks && !this._upgrading && answeringMidGroup.get(this) === true) batchReplies(this._socket, code);
    if (!hooks || typeof data !== 'string') {
      originalSend.call(this, code, data, context);
      return;
    }
    if (hasEnhancedCode(data)) {
      originalSend.call(this, code, data, false);
      return;
    }
    const replacement = hooks.rewriteReply({ code, text: data, context }, this.session, this.secure);
    if (replacement) {
      originalSend.call(this, replacement.code, replyText(replacement), false);
      return;
    }
    // The library sends some refusals (e.g. "501 Error: Syntax: HELO hostname") with context
    // false, i.e. without an enhanced code; after EHLO every 4xx/5xx must carry one (RFC 2034).
    originalSend.call(this, code, data, context === false && code >= 400 ? undefined : context);
  };
}
