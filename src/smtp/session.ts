/**
 * The session adapter: smtp-server's callbacks in, pipeline stages asked, catalogue
 * replies out, accepted messages into the spool. One adapter serves every listener;
 * a listener differs only by its ListenerConfig and Policy.
 */
import type { Writable } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type {
  SMTPServerAddress,
  SMTPServerAuthentication,
  SMTPServerAuthenticationResponse,
  SMTPServerDataStream,
  SMTPServerOptions,
  SMTPServerSession,
} from 'smtp-server';
import type { Logger } from 'pino';
import type { ListenerConfig, Policy } from '../config/schema.js';
import { AuthThrottle } from '../auth/throttle.js';
import type { AuthenticatedUser, Authenticator } from '../auth/users.js';
import { networkSet, plainAddress } from '../pipeline/networks.js';
import {
  authFailureVerdict,
  checkAuthorizationIdentity,
  checkConnect,
  checkMailFrom,
  checkRcptTo,
  type ConnectionCounts,
  recipientAddress,
  relayRules,
} from '../pipeline/stages.js';
import { IntakeRateLimits, type RateFacts } from '../pipeline/rate-limits.js';
import {
  dataDeadlineMs,
  idleTimeoutMs,
  isStressed,
  pickEvictable,
  type EvictionCandidate,
} from '../pipeline/stress.js';
import { spfVerdict, type SpfFinding } from '../pipeline/authentication-results.js';
import type { Verdict } from '../pipeline/verdict.js';
import type { Envelope, Recipient } from '../spool/envelope.js';
import { newQueueId } from '../spool/queue-id.js';
import { receivedHeader } from '../spool/received.js';
import { receiveMessage } from '../spool/receive.js';
import type { Spool } from '../spool/spool.js';
import { isErrno } from '../util/errno.js';
import { envelopeFacts, injectFault } from '../faults/inject.js';
import { LimiterFullError } from '../util/limiter.js';
import type { FaultFacts, FaultRules, FaultStage } from '../faults/rules.js';
import type { Metrics } from '../metrics.js';
import type { InboundAuthCheck, InboundAuthStart, SpfFacts } from './inbound-auth.js';
import {
  connectionControl,
  negotiatedTlsProtocol,
  pathFormOf,
  refuseRenegotiation,
  type ConnectionControl,
} from './library-hooks.js';
import { queued, replies, replyError, replyText, type SmtpReply } from './replies.js';

export interface SessionDeps {
  readonly listener: ListenerConfig;
  readonly policy: Policy;
  readonly hostname: string;
  readonly acceptedDomains: readonly string[];
  /** Where RCPT TO:<postmaster> goes. */
  readonly postmaster: string;
  readonly spool: Spool;
  readonly authenticate: Authenticator;
  readonly log: Logger;
  readonly mode: 'capture' | 'relay';
  /** The port actually bound (differs from listener.port when that is 0). */
  readonly boundPort: () => number;
  /** Injected faults of this server instance. */
  readonly faults: FaultRules;
  readonly metrics?: Metrics;
  /** Inbound SPF/DKIM/DMARC (policy inboundAuth); given only when a policy asks, so mailauth loads only then. */
  readonly inboundAuth?: InboundAuthStart;
  /** Told of every refused AUTH (the hook for an auth-failure counter in metrics). */
  readonly onAuthFailure?: (failure: AuthFailure) => void;
}

export interface AuthFailure {
  readonly listener: string;
  readonly clientAddress: string;
  readonly username: string;
  /** credentials: wrong; throttled: refused (454) before checking; authzid: acting as another user. */
  readonly reason: 'credentials' | 'throttled' | 'authzid';
}

/** What a connection carries between commands. A class, not a literal with a getter: one is made per connection. */
class ConnectionState {
  authFailures = 0;
  user: AuthenticatedUser | undefined = undefined;
  /** SPF for the sender of the transaction under way, started at MAIL FROM (inbound auth only). */
  spf: { readonly sender: string; readonly finding: Promise<SpfFinding> } | undefined = undefined;
  private logger: Logger | undefined;

  constructor(
    private readonly parentLog: Logger,
    readonly clientAddress: string,
    readonly session: SMTPServerSession,
    /** In trustedNetworks: not a stranger, exempt from per-client limits. */
    readonly trusted: boolean,
    readonly control: ConnectionControl | undefined,
  ) {}

  /** Made on first use: at level warn most sessions never log, and a child costs per connection. */
  get log(): Logger {
    this.logger ??= this.parentLog.child({ session: this.session.id, client: this.clientAddress });
    return this.logger;
  }
}

type Callback = (error?: Error | null) => void;

const MAX_HOPS = 50;
/** How often a DATA in progress is checked against the minimum rate. */
const DATA_RATE_CHECK_MS = 1000;

type Handlers = Required<
  Pick<
    SMTPServerOptions,
    'onConnect' | 'onSecure' | 'onAuth' | 'onMailFrom' | 'onRcptTo' | 'onData' | 'onClose'
  >
>;

function toError(verdict: Verdict): Error | null {
  return verdict.kind === 'reject' ? replyError(verdict.reply) : null;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** AUTH is hidden (and refused) until TLS when the policy says so, and always where auth is none. */
function disabledCommands(listener: ListenerConfig, policy: Policy, secure: boolean): string[] {
  const disabled: string[] = [];
  if (listener.tls !== 'starttls') disabled.push('STARTTLS');
  if (policy.auth === 'none' || (policy.authRequiresTls && !secure)) disabled.push('AUTH');
  return disabled;
}

export function createSessionHandlers(deps: SessionDeps): Handlers {
  const { listener, policy } = deps;
  const rules = relayRules(policy, deps.acceptedDomains, networkSet(policy.relay.trustedNetworks));
  // Made once: the library only reads a session's list, and every session starts with one.
  const disabledBeforeTls = disabledCommands(listener, policy, listener.tls === 'implicit');
  const disabledAfterTls = disabledCommands(listener, policy, true);
  const throttle = new AuthThrottle(policy.authThrottle);
  const rates = new IntakeRateLimits(policy.limits.rate, rules.trustedNetworks);
  const connections = new Map<string, ConnectionState>();
  const perClient = new Map<string, number>();
  /**
   * Open connections that are strangers (isStranger), kept as a count so that every connect
   * and close costs the same however many sessions are open. Changed only where onConnect
   * adds a connection, in forget and in setUser.
   */
  let strangers = 0;
  let stressed = false;

  const stateOf = (session: SMTPServerSession): ConnectionState | undefined => connections.get(session.id);
  const isStranger = (state: ConnectionState): boolean => !state.trusted && state.user === undefined;

  const setUser = (state: ConnectionState, user: AuthenticatedUser | undefined): void => {
    if (isStranger(state)) strangers--;
    state.user = user;
    if (isStranger(state)) strangers++;
  };

  /** Under stress every session's idle timeout drops (and comes back after), Postfix-style. */
  const updateStress = (): void => {
    const now = isStressed(policy.limits, connections.size, strangers);
    if (now === stressed) return;
    stressed = now;
    deps.log.warn(
      { sessions: connections.size, stressed },
      stressed ? 'listener under stress' : 'listener stress over',
    );
    const ms = idleTimeoutMs(policy.limits, stressed);
    for (const state of connections.values()) state.control?.setIdleTimeout(ms);
  };

  const forget = (state: ConnectionState): void => {
    if (!connections.delete(state.session.id)) return;
    if (isStranger(state)) strangers--;
    const remaining = (perClient.get(state.clientAddress) ?? 1) - 1;
    if (remaining > 0) perClient.set(state.clientAddress, remaining);
    else perClient.delete(state.clientAddress);
    updateStress();
  };

  /** Closes the stranger idle longest, to make room; false when none is idle. */
  const evictIdleStranger = (): boolean => {
    const candidates: EvictionCandidate[] = [];
    for (const state of connections.values()) {
      if (!isStranger(state) || !state.control?.waitingForClient()) continue;
      candidates.push({
        id: state.session.id,
        idleSince: state.control.idleSince(),
        inTransaction: state.session.envelope.mailFrom !== false,
      });
    }
    const id = pickEvictable(candidates);
    const victim = id === undefined ? undefined : connections.get(id);
    if (!victim) return false;
    victim.log.info('closing idle connection to make room');
    victim.control?.closeWith(replies.idleEvicted);
    forget(victim);
    return true;
  };

  const admit = (clientAddress: string, trusted: boolean): Verdict => {
    const counts = (): ConnectionCounts => ({
      listener: connections.size + 1,
      client: (perClient.get(clientAddress) ?? 0) + 1,
      unauthenticated: trusted ? 0 : strangers + 1,
      trusted,
    });
    const verdict = checkConnect(policy.limits, counts());
    if (verdict.kind === 'reject' && verdict.reply === replies.tooManyConnections && evictIdleStranger()) {
      return checkConnect(policy.limits, counts());
    }
    return verdict;
  };

  return {
    onConnect(session, callback) {
      const clientAddress = plainAddress(session.remoteAddress);
      // A balancer's "PROXY UNKNOWN" (health checks) leaves its own address in place; its
      // trust must never pass to whoever it forwards.
      if (listener.proxyFrom.includes(clientAddress)) {
        callback(replyError(replies.proxyWithoutClient));
        return;
      }
      const trusted = rules.trustedNetworks.contains(clientAddress);
      const verdict = admit(clientAddress, trusted);
      if (verdict.kind === 'reject') {
        deps.log
          .child({ session: session.id, client: clientAddress })
          .warn({ reply: verdict.reply.enhanced }, 'connection refused: %s', verdict.reply.text);
        callback(toError(verdict));
        return;
      }
      perClient.set(clientAddress, (perClient.get(clientAddress) ?? 0) + 1);
      const control = connectionControl(session);
      const state = new ConnectionState(deps.log, clientAddress, session, trusted, control);
      connections.set(session.id, state);
      if (isStranger(state)) strangers++;
      updateStress();
      // Unstressed, the library armed the same timeout (socketTimeout) already.
      if (stressed) control?.setIdleTimeout(idleTimeoutMs(policy.limits, stressed));
      session.disabledCommands = disabledBeforeTls;
      deps.metrics?.connection(listener.name);
      if (deps.log.isLevelEnabled('debug')) state.log.debug('connected');
      withFault(
        'connect',
        () => ({}),
        session,
        callback,
        () => {
          callback();
        },
      );
    },

    onSecure(socket, session, callback) {
      if (socket instanceof TLSSocket) refuseRenegotiation(socket);
      const state = stateOf(session);
      // RFC 3207 §4.2: nothing learnt before TLS survives it.
      if (state) setUser(state, undefined);
      session.disabledCommands = disabledAfterTls;
      callback();
    },

    onAuth(auth: SMTPServerAuthentication, session, callback) {
      const state = stateOf(session);
      if (!state) {
        callback(replyError(replies.localError));
        return;
      }
      const username = auth.username ?? '';
      const identity = checkAuthorizationIdentity(auth.authzid, auth.authcid);
      if (identity.kind === 'reject') {
        state.log.warn(
          { user: username, authzid: auth.authzid },
          'authentication refused: %s',
          identity.reply.text,
        );
        deps.onAuthFailure?.({
          listener: listener.name,
          clientAddress: state.clientAddress,
          username,
          reason: 'authzid',
        });
        callback(toError(identity));
        return;
      }
      withFault(
        'auth',
        () => ({}),
        session,
        callback,
        () => authenticate(state, username, auth.password ?? '', callback),
      );
    },

    onMailFrom(address: SMTPServerAddress, session, callback: Callback) {
      withFault(
        'mail',
        () => ({ sender: address.address }),
        session,
        callback,
        () => {
          mailFrom(address, session, callback);
        },
      );
    },

    onRcptTo(address: SMTPServerAddress, session, callback: Callback) {
      withFault(
        'rcpt',
        () => envelopeFacts(session, address.address),
        session,
        callback,
        () => {
          rcptTo(address, session, callback);
        },
      );
    },

    onData(stream: SMTPServerDataStream, session, callback) {
      const state = stateOf(session);
      if (!state) {
        callback(replyError(replies.localError));
        return;
      }
      withFault(
        'data',
        () => envelopeFacts(session),
        session,
        callback,
        () => {
          const stopWatch = watchDataRate(stream, state, () => stressed);
          acceptMessage(deps, state, session, stream).then(
            async (reply) => {
              stopWatch();
              deps.metrics?.message(listener.name, reply.code);
              if (reply.code !== 250) {
                callback(replyError(reply));
                return;
              }
              // After the message is durable: a fault here stands for a lost acknowledgement.
              const after = await injectFault(
                deps.faults,
                'after-data',
                () => envelopeFacts(session),
                session,
              );
              if (after.kind === 'continue') callback(null, replyText(reply));
              else if (after.kind === 'reply') callback(replyError(after.reply));
              // dropped: the socket is gone and nothing can be answered.
            },
            (error: unknown) => {
              stopWatch();
              state.log.error({ err: describe(error) }, 'unexpected error while receiving');
              callback(replyError(replies.localError));
            },
          );
        },
      );
    },

    onClose(session) {
      const state = connections.get(session.id);
      if (!state) return;
      forget(state);
      if (deps.log.isLevelEnabled('debug')) state.log.debug('closed');
    },
  };

  /**
   * Ends DATA that arrives slower than minDataRate: it may take the idle timeout plus the
   * time its bytes need at that rate (Postfix smtpd_min_data_rate), so a byte a second no
   * longer holds a slot for ever. Returns the function that stops watching.
   */
  function watchDataRate(
    stream: SMTPServerDataStream,
    state: ConnectionState,
    underStress: () => boolean,
  ): () => void {
    if (policy.limits.minDataRate === 0) return () => undefined;
    const started = Date.now();
    let bytes = 0;
    const count = (chunk: Buffer): void => {
      bytes += chunk.length;
    };
    stream.on('data', count);
    // Stress seen once during this DATA keeps the short deadline: the idle strangers that
    // caused it time out after the same 10 s, and the dribble must not win back 300 s by
    // outliving them.
    let sawStress = false;
    const timer = setInterval(() => {
      sawStress ||= underStress();
      if (Date.now() - started <= dataDeadlineMs(policy.limits, sawStress, bytes)) return;
      clearInterval(timer);
      state.log.info({ bytes, ms: Date.now() - started }, 'DATA too slow, closing');
      state.control?.closeWith(replies.dataTooSlow);
    }, DATA_RATE_CHECK_MS);
    timer.unref();
    return () => {
      clearInterval(timer);
      stream.removeListener('data', count);
    };
  }

  function withFault(
    stage: FaultStage,
    facts: () => FaultFacts,
    session: SMTPServerSession,
    callback: (error?: Error | null) => void,
    next: () => void,
  ): void {
    // Checked here too, not only in injectFault: every command of every session passes this
    // way, and going on at once saves a promise round per command.
    if (deps.faults.empty) {
      next();
      return;
    }
    injectFault(deps.faults, stage, facts, session).then(
      (outcome) => {
        if (outcome.kind === 'continue') next();
        else if (outcome.kind === 'reply') callback(replyError(outcome.reply));
        else callback(replyError(replies.localError));
      },
      () => {
        next();
      },
    );
  }

  function authenticate(
    state: ConnectionState,
    username: string,
    password: string,
    callback: (error: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void,
  ): void {
    const decision = throttle.reserve(state.clientAddress, username);
    const next = (): void => {
      if (decision.kind === 'check') {
        check(state, username, password, callback);
        return;
      }
      state.log.warn({ user: username }, 'authentication refused: too many recent failures');
      deps.onAuthFailure?.({
        listener: listener.name,
        clientAddress: state.clientAddress,
        username,
        reason: 'throttled',
      });
      callback(replyError(replies.authTemporaryFailure));
    };
    if (decision.waitMs === 0) {
      next();
      return;
    }
    state.log.debug({ user: username, waitMs: decision.waitMs }, 'authentication throttled');
    setTimeout(next, decision.waitMs).unref();
  }

  function check(
    state: ConnectionState,
    username: string,
    password: string,
    callback: (error: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void,
  ): void {
    deps.authenticate(username, password).then(
      (user) => {
        if (user) {
          throttle.succeeded(state.clientAddress, username);
          setUser(state, user);
          updateStress();
          state.log.info({ user: user.username }, 'authenticated');
          const response: SMTPServerAuthenticationResponse = { user: user.username };
          callback(null, response);
          return;
        }
        state.authFailures++;
        throttle.failed(state.clientAddress, username);
        deps.onAuthFailure?.({
          listener: listener.name,
          clientAddress: state.clientAddress,
          username,
          reason: 'credentials',
        });
        const verdict = authFailureVerdict(policy.limits, state.authFailures);
        state.log.warn({ user: username, failures: state.authFailures }, 'authentication failed');
        callback(toError(verdict));
      },
      (error: unknown) => {
        if (error instanceof LimiterFullError)
          state.log.warn('authentication refused: too many logins waiting');
        else state.log.error({ err: describe(error) }, 'authentication error');
        callback(replyError(replies.authTemporaryFailure));
      },
    );
  }

  function rateFacts(state: ConnectionState | undefined, session: SMTPServerSession): RateFacts {
    return { clientAddress: state?.clientAddress ?? session.remoteAddress, authUser: state?.user?.username };
  }

  function mailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback: Callback): void {
    const state = stateOf(session);
    const declared = address.args === false ? undefined : address.args.SIZE;
    let verdict = checkMailFrom(policy, {
      sender: address.address,
      declaredSize: typeof declared === 'string' ? Number(declared) : undefined,
      user: state?.user,
    });
    // Counted only for a MAIL that is otherwise accepted, as Postfix's anvil counts.
    if (verdict.kind === 'accept') verdict = rates.mail(rateFacts(state, session));
    const answer = (final: Verdict, fields: Record<string, unknown>): void => {
      if (final.kind === 'reject') {
        deps.metrics?.rejection(listener.name, 'mail', final.reply.code);
        state?.log.info(fields, 'MAIL refused: %s', final.reply.text);
      }
      callback(toError(final));
    };
    if (verdict.kind !== 'reject' && state) {
      // The lookups run while the client sends RCPT and DATA; DATA uses the result.
      const facts = spfFacts(deps, state, session, address.address);
      const finding = facts && deps.inboundAuth ? deps.inboundAuth.spf(facts) : undefined;
      state.spf = finding ? { sender: address.address, finding } : undefined;
      const action = policy.inboundAuth?.spf ?? 'record';
      if (finding && action === 'reject') {
        // Refused before the body is sent: the reply waits for the result (never a rejection).
        void finding.then((spf) => {
          answer(spfVerdict(action, spf), { from: address.address, spf: spf.result });
        });
        return;
      }
    }
    answer(verdict, { from: address.address });
  }

  function rcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: Callback): void {
    const state = stateOf(session);
    let verdict = checkRcptTo(rules, {
      recipient: address.address,
      routing: pathFormOf(address)?.routing ?? false,
      clientAddress: state?.clientAddress ?? session.remoteAddress,
      authenticated: state?.user !== undefined,
    });
    if (verdict.kind === 'accept') verdict = rates.rcpt(rateFacts(state, session));
    if (verdict.kind === 'reject') {
      deps.metrics?.rejection(listener.name, 'rcpt', verdict.reply.code);
      state?.log.info({ to: address.address }, 'RCPT refused: %s', verdict.reply.text);
    } else {
      address.address = recipientAddress(address.address, deps.postmaster);
    }
    callback(toError(verdict));
  }
}

function recipientsOf(session: SMTPServerSession): Recipient[] {
  return session.envelope.rcptTo.map((rcpt) => ({
    address: rcpt.address,
    ...(rcpt.dsn?.notify ? { notify: rcpt.dsn.notify } : {}),
    ...(rcpt.dsn?.orcpt ? { orcpt: rcpt.dsn.orcpt } : {}),
  }));
}

/** SPF's facts when this transaction gets inbound authentication: its policy asks and the client is another MTA. */
function spfFacts(
  deps: SessionDeps,
  state: ConnectionState,
  session: SMTPServerSession,
  mailFrom: string,
): SpfFacts | undefined {
  if (!deps.inboundAuth || !deps.policy.inboundAuth || state.trusted || state.user !== undefined)
    return undefined;
  return {
    clientAddress: state.clientAddress,
    helo: session.hostNameAppearsAs,
    mailFrom,
    hostname: deps.hostname,
  };
}

/** Inbound authentication of this message, with the SPF result of its MAIL FROM. */
function startInboundAuth(
  deps: SessionDeps,
  state: ConnectionState,
  session: SMTPServerSession,
  file: Writable,
): InboundAuthCheck | undefined {
  const mailFrom = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
  const facts = spfFacts(deps, state, session, mailFrom);
  if (!deps.inboundAuth || !facts) return undefined;
  const spf = state.spf?.sender === mailFrom ? state.spf.finding : deps.inboundAuth.spf(facts);
  return deps.inboundAuth.check(file, deps.hostname, spf);
}

/** DATA to durable spool; resolves with the reply to send. */
async function acceptMessage(
  deps: SessionDeps,
  state: ConnectionState,
  session: SMTPServerSession,
  stream: SMTPServerDataStream,
): Promise<SmtpReply> {
  const id = newQueueId();
  let messageLog: Logger | undefined;
  const log = (): Logger => (messageLog ??= state.log.child({ queueId: id }));
  const storageFailure = (error: unknown): SmtpReply => {
    const full = isErrno(error, 'ENOSPC') || isErrno(error, 'EDQUOT');
    log().error({ err: describe(error) }, full ? 'spool disk full' : 'spool write failed');
    return full ? replies.diskFull : replies.localError;
  };

  let writer;
  try {
    writer = await deps.spool.begin(id);
  } catch (error) {
    return storageFailure(error);
  }
  const cipher = session.tlsOptions === false ? undefined : session.tlsOptions;
  // cipher.version is the cipher suite's oldest protocol, not the negotiated one.
  const tls = cipher
    ? { version: negotiatedTlsProtocol(session) ?? cipher.version, cipher: cipher.name }
    : undefined;
  const recipients = recipientsOf(session);
  const receivedAt = new Date();
  const header = receivedHeader({
    helo: session.hostNameAppearsAs,
    clientAddress: state.clientAddress,
    serverName: deps.hostname,
    queueId: id,
    esmtp: session.openingCommand !== 'HELO',
    tls,
    authenticated: state.user !== undefined,
    recipients: recipients.map((r) => r.address),
    date: receivedAt,
  });

  const auth = startInboundAuth(deps, state, session, writer.stream);
  const outcome = await receiveMessage(stream, auth ?? writer, header, deps.policy.limits.maxMessageSize);
  const refuse = async (reply: SmtpReply): Promise<SmtpReply> => {
    auth?.cancel();
    await writer.abort();
    return reply;
  };
  switch (outcome.kind) {
    case 'too-big':
      log().info({ limit: deps.policy.limits.maxMessageSize }, 'message refused: too big');
      return refuse(replies.messageTooBig);
    case 'aborted':
      log().info('client left during DATA');
      return refuse(replies.localError);
    case 'write-failed':
      auth?.cancel();
      await writer.abort();
      return storageFailure(outcome.error);
    case 'stored':
      break;
  }
  // RFC 5321 §6.3: a loop ends at a hop limit (Postfix's hopcount_limit is 50 too).
  if (outcome.hops >= MAX_HOPS) {
    log().warn({ hops: outcome.hops }, 'message refused: too many hops');
    return refuse(replies.tooManyHops);
  }
  if (outcome.bareLineEndings > 0) {
    if (deps.policy.bareLineEndings === 'reject') {
      log().info({ bare: outcome.bareLineEndings }, 'message refused: bare CR or LF');
      return refuse(replies.bareLineEnding);
    }
    log().info({ bare: outcome.bareLineEndings }, 'normalised bare CR or LF to CRLF');
  }

  if (outcome.nulBytes > 0) {
    if (deps.policy.nulBytes === 'reject') {
      log().info({ nul: outcome.nulBytes }, 'message refused: NUL bytes');
      return refuse(replies.nulByte);
    }
    log().info({ nul: outcome.nulBytes }, 'removed NUL bytes');
  }

  let resultsHeader: Buffer | undefined;
  if (auth) {
    let concluded;
    try {
      concluded = await auth.conclude(deps.policy.inboundAuth?.dmarc ?? 'record');
    } catch (error) {
      await writer.abort();
      return storageFailure(error);
    }
    const { spf, dkim, dmarc, notChecked } = concluded.findings;
    const results = {
      spf: spf.result,
      dkim: dkim.map((d) => d.result),
      dmarc: dmarc.result,
      from: dmarc.fromDomain,
    };
    // A message passed on unverified is worth an operator's look: a warning, with the reason.
    if (notChecked === undefined) log().info(results, 'inbound authentication');
    else log().warn({ ...results, reason: notChecked }, 'inbound authentication incomplete');
    if (concluded.verdict.kind === 'reject') return refuse(concluded.verdict.reply);
    resultsHeader = concluded.header;
  }

  const mailFrom = session.envelope.mailFrom;
  const dsn = session.envelope.dsn;
  const envelope: Envelope = {
    version: 1,
    id,
    receivedAt: receivedAt.toISOString(),
    size: outcome.bytes,
    mailFrom: mailFrom === false ? '' : mailFrom.address,
    rcptTo: recipients,
    ...(dsn && (dsn.ret ?? dsn.envid)
      ? { dsn: { ...(dsn.ret ? { ret: dsn.ret } : {}), ...(dsn.envid ? { envid: dsn.envid } : {}) } }
      : {}),
    smtputf8: session.envelope.smtpUtf8 === true,
    client: { address: state.clientAddress, port: session.remotePort, helo: session.hostNameAppearsAs },
    listener: { name: deps.listener.name, role: deps.listener.role, port: deps.boundPort() },
    ...(state.user ? { authUser: state.user.username } : {}),
    ...(tls ? { tls } : {}),
    state: deps.mode === 'capture' ? 'captured' : 'queued',
  };
  try {
    await writer.commit(envelope, resultsHeader);
  } catch (error) {
    return storageFailure(error);
  }
  // As Postfix's smtpd lines: sasl_username, and the TLS protocol and cipher.
  if (deps.log.isLevelEnabled('info'))
    log().info(
      {
        from: envelope.mailFrom,
        rcpt: recipients.length,
        size: envelope.size,
        ...(envelope.authUser === undefined ? {} : { user: envelope.authUser }),
        ...(tls ? { tls: tls.version, cipher: tls.cipher } : {}),
      },
      'queued',
    );
  return queued(id);
}
