/**
 * The delivery worker: takes queued messages from the spool and hands them to a Courier,
 * recipient by recipient, with retries and DSNs. The decisions are transitions.ts's; this
 * file does the I/O around them: one task per message at a time, each new state durable
 * before anything is done because of it, and DSNs queued from the state's outbox.
 */
import { watch, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { addressDomain } from '../pipeline/stages.js';
import type { Envelope } from '../spool/envelope.js';
import { RecordDamagedError } from '../spool/journal.js';
import type { Spool } from '../spool/spool.js';
import { settlesWithin } from '../util/deadline.js';
import type { DkimSigner } from '../dkim/sign.js';
import { signedMessage } from './signed-message.js';
import { nextDelaySeconds } from './backoff.js';
import { controlDir, drainCommands } from './control.js';
import type { ControlCommand } from './control-command.js';
import { NOT_ATTEMPTED, type Courier, type OutboundMessage } from './courier.js';
import { postfixDelays } from './delays.js';
import { DueQueue } from './due-queue.js';
import { queueNotice } from './notices.js';
import { describeOutcome, localOutcome, type RecipientResult } from './outcome.js';
import { systemResolver, type Resolver } from './routes.js';
import { messageBytes, type MessageBytes } from './message-bytes.js';
import { SmtpCourier } from './smtp-courier.js';
import { initialState, openRecipients, parseState, serializeState, type DeliveryState } from './state.js';
import { applyOperator, applyResults, type RetryPolicy, type Transition } from './transitions.js';

export interface DeliveryEvents {
  /** One per recipient per attempt: sent, deferred or bounced. */
  attempted?(status: 'sent' | 'deferred' | 'bounced'): void;
}

export interface WorkerDeps {
  readonly spool: Spool;
  readonly config: Config;
  readonly log: Logger;
  readonly resolver?: Resolver;
  /** The wire; the SMTP courier unless a test passes its own. */
  readonly courier?: Courier;
  readonly now?: () => Date;
  readonly random?: () => number;
  readonly events?: DeliveryEvents;
  /** Signs outgoing mail once, before its first attempt; absent: nothing is signed. */
  readonly dkim?: DkimSigner;
}

/** After cutting connections: long enough for each attempt to record its deferral. */
const ABORT_SETTLE_MS = 5000;
/** After an unexpected error in an attempt, try the message again after this long. */
const AFTER_ERROR_MS = 60_000;
const BUSY_RETRY_MS = 200;
/**
 * Messages under way per connection allowed (delivery.concurrency.total): the extra ones read
 * their files, or write their new state, while the others have the wire, and wait in the
 * courier for a connection (Postfix's queue manager likewise keeps far more messages active
 * than it has delivery agents).
 */
const ACTIVE_PER_CONNECTION = 4;

/**
 * A queued message's delivery state as this worker last read or wrote it. While the server
 * runs, only the worker writes states (operator commands reach it through control/; the CLI
 * writes them itself only when no server holds the spool lock), so this is what the disk
 * holds: an attempt need not open, stat, read and parse the file again. `stored` is false
 * while no state file exists for the message (nothing recorded yet), so its removal need not
 * try to unlink one.
 */
interface KnownState {
  readonly state: DeliveryState;
  readonly stored: boolean;
}

export class DeliveryWorker {
  /** Queued, not held, not in flight: when each is next due. */
  private readonly due = new DueQueue();
  /** Every queued message we know of (held ones too), by id. */
  private readonly envelopes = new Map<string, Envelope>();
  /** The delivery state of queued messages, once read or written (see KnownState). */
  private readonly states = new Map<string, KnownState>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly courier: Courier;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly captureDomains: ReadonlySet<string>;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private poller: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private control: Promise<void> = Promise.resolve();
  private controlAgain = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  private unsubscribeDamaged: (() => void) | undefined;
  /**
   * Every id the journal announced as removed for damage (Spool.onDamagedRemoved): a rescan
   * that listed one before the announcement must not take it up after. One entry per damaged
   * message ever found, and queue ids are never reused.
   */
  private readonly damaged = new Set<string>();

  constructor(private readonly deps: WorkerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.random = deps.random ?? Math.random;
    this.captureDomains = new Set(deps.config.delivery.captureDomains.map((d) => addressDomain(`x@${d}`)));
    this.courier =
      deps.courier ?? new SmtpCourier(deps.config, deps.resolver ?? systemResolver, this.random, deps.log);
  }

  /** Queued messages known to the worker (held ones included). */
  get queued(): number {
    return this.envelopes.size;
  }

  /** The receipt time of the oldest queued message, or undefined when the queue is empty. */
  oldestReceivedAt(): number | undefined {
    let oldest: number | undefined;
    for (const envelope of this.envelopes.values()) {
      const at = Date.parse(envelope.receivedAt);
      if (oldest === undefined || at < oldest) oldest = at;
    }
    return oldest;
  }

  async start(): Promise<void> {
    const dir = controlDir(this.deps.spool);
    await mkdir(dir, { recursive: true });
    try {
      this.watcher = watch(dir, () => {
        this.checkControl();
      });
      this.watcher.on('error', (error) => {
        // Polling below still finds commands; say why they may be slower.
        this.deps.log.warn({ err: String(error) }, 'watching control/ failed; commands are found by polling');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (error) {
      this.deps.log.warn({ err: String(error) }, 'cannot watch control/; commands are found by polling');
    }
    // fs.watch can miss events (network file systems, overflows): poll too.
    this.poller = setInterval(() => {
      this.checkControl();
    }, this.deps.config.delivery.pollSeconds * 1000);
    this.poller.unref();
    this.unsubscribe = this.deps.spool.onCommitted((envelope) => {
      if (envelope.state !== 'queued') return;
      this.envelopes.set(envelope.id, envelope);
      // Just committed: no state file yet.
      this.states.set(envelope.id, { state: this.initialState(envelope), stored: false });
      this.due.set(envelope.id, 0);
      this.wake(0);
    });
    this.unsubscribeDamaged = this.deps.spool.onDamagedRemoved((id) => {
      this.forgetDamaged(id);
    });
    await this.rescan();
    this.checkControl();
  }

  /** Reads the queue from disk and schedules each message by its stored state. */
  async rescan(): Promise<void> {
    for (const envelope of await this.deps.spool.list()) {
      // Announced as damaged since the listing read it: forgetDamaged had nothing to forget yet.
      if (envelope.state !== 'queued' || this.inFlight.has(envelope.id) || this.damaged.has(envelope.id))
        continue;
      this.envelopes.set(envelope.id, envelope);
      const state = await this.loadState(envelope);
      // Announced while its state was read: forgetDamaged let go of it, and so does the rescan.
      if (this.damaged.has(envelope.id)) {
        this.forget(envelope.id);
        continue;
      }
      if (state.held) this.due.delete(envelope.id);
      else this.due.set(envelope.id, Date.parse(state.nextAttemptAt));
    }
    this.wake(0);
  }

  /** Applies operator commands from spool/control/, in number order, never under a running attempt. */
  checkControl(): void {
    if (this.stopped) return;
    // One drain at a time; a call during a drain asks for one more after it.
    if (this.controlAgain) return;
    this.controlAgain = true;
    this.control = this.control
      .then(async () => {
        this.controlAgain = false;
        await drainCommands(
          this.deps.spool,
          (command) => this.applyCommand(command),
          (name, movedTo) => {
            this.deps.log.error({ file: name, movedTo }, 'malformed queue command file quarantined');
          },
        );
      })
      .catch((error: unknown) => {
        this.deps.log.error({ err: String(error) }, 'queue command failed');
      });
  }

  private async applyCommand(command: ControlCommand): Promise<void> {
    if (command.op === 'flush') {
      this.flushNow(command);
      return;
    }
    const targets = command.ids.length === 0 ? [...this.envelopes.keys()] : command.ids;
    const changed: string[] = [];
    for (const id of targets) {
      const envelope = this.envelopes.get(id) ?? (await this.deps.spool.envelope(id));
      if (envelope?.state !== 'queued') continue;
      await this.exclusive(id, async () => {
        const state = await this.loadState(envelope);
        const transition = applyOperator(state, envelope, command, this.now(), this.policy());
        if (transition.state === state) return; // stale: the operator said otherwise since
        changed.push(id);
        await this.commit(envelope, transition);
      });
    }
    this.deps.log.info({ op: command.op, seq: command.seq, ids: changed }, 'queue command applied');
  }

  /**
   * "Retry now" needs no disk write (after a crash the stored schedule is as good), and
   * leaves held and running messages alone: only what waits in the due queue moves.
   */
  private flushNow(command: ControlCommand): void {
    const now = this.now().getTime();
    const ids = command.ids.length === 0 ? [...this.due.ids()] : command.ids.filter((id) => this.due.has(id));
    for (const id of ids) this.due.set(id, now);
    this.deps.log.info(
      { op: 'flush', seq: command.seq, ids: command.ids.length === 0 ? 'all' : ids },
      'queue command applied',
    );
    this.wake(0);
  }

  /** Runs `task` for a message while no attempt runs for it (waiting for one under way). */
  private async exclusive(id: string, task: () => Promise<void>): Promise<void> {
    for (let busy = this.inFlight.get(id); busy; busy = this.inFlight.get(id))
      await busy.catch(() => undefined);
    const running = task();
    const guard = running.catch(() => undefined);
    this.inFlight.set(id, guard);
    try {
      await running;
    } finally {
      if (this.inFlight.get(id) === guard) this.inFlight.delete(id);
    }
  }

  /**
   * Starts nothing new and waits for running attempts, at most `graceMs`; then cuts their
   * connections, so a remote that stalls cannot hold up a shutdown. A cut attempt is recorded
   * as deferred and retried after the restart (a remote that had already accepted the
   * message may then get it twice: SMTP's at-least-once, never a loss).
   */
  async stop(graceMs = this.deps.config.shutdownGraceSeconds * 1000): Promise<void> {
    this.stopped = true;
    this.courier.stopping();
    this.watcher?.close();
    clearInterval(this.poller);
    this.unsubscribe?.();
    this.unsubscribeDamaged?.();
    clearTimeout(this.timer);
    const running = Promise.allSettled([this.control, ...this.inFlight.values()]);
    if (!(await settlesWithin(running, graceMs))) {
      this.deps.log.warn(
        { inFlight: this.inFlight.size, graceMs },
        'deliveries still running at the end of the grace period: cutting their connections',
      );
      this.courier.abort();
      // Cut sockets fail their sends at once; what remains is the state write of each.
      await settlesWithin(running, ABORT_SETTLE_MS);
    }
    this.courier.close();
  }

  /** Waits until nothing is in flight (for tests). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled(this.inFlight.values());
  }

  private policy(): RetryPolicy {
    const delivery = this.deps.config.delivery;
    return {
      giveUpAfterSeconds: delivery.retry.giveUpAfterSeconds,
      delayWarningSeconds: delivery.delayWarningSeconds,
      retryDelaySeconds: (attempts) => nextDelaySeconds(attempts, delivery.retry, this.random),
    };
  }

  /** Runs the due queue at `at` (ms since the epoch) unless it already runs sooner. */
  private wake(delayMs: number): void {
    if (this.stopped) return;
    const at = Date.now() + Math.max(0, delayMs);
    if (this.timer !== undefined && at >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        this.run();
      },
      Math.max(0, delayMs),
    );
    this.timer.unref();
  }

  private run(): void {
    if (this.stopped) return;
    const now = this.now().getTime();
    const free = this.activeLimit() - this.inFlight.size;
    for (const id of this.due.takeDue(now, Math.max(0, free))) {
      const envelope = this.envelopes.get(id);
      if (!envelope) continue;
      if (this.inFlight.has(id)) {
        // An operator command holds it: look again shortly (the command may have rescheduled it).
        if (!this.due.has(id)) this.due.set(id, now + BUSY_RETRY_MS);
        continue;
      }
      const task = this.attempt(envelope)
        .catch((error: unknown) => {
          this.deps.log.error({ queueId: id, err: String(error) }, 'delivery attempt failed unexpectedly');
          if (this.envelopes.has(id)) this.due.set(id, this.now().getTime() + AFTER_ERROR_MS);
        })
        .finally(() => {
          if (this.inFlight.get(id) === task) this.inFlight.delete(id);
          this.wake(0);
        });
      this.inFlight.set(id, task);
    }
    const next = this.due.peek();
    const poll = this.deps.config.delivery.pollSeconds * 1000;
    // With every slot busy, the end of an attempt wakes us; otherwise the next due time does.
    if (this.inFlight.size < this.activeLimit() && next !== undefined) this.wake(Math.min(next - now, poll));
  }

  private activeLimit(): number {
    return this.deps.config.delivery.concurrency.total * ACTIVE_PER_CONNECTION;
  }

  private async loadState(envelope: Envelope): Promise<DeliveryState> {
    const known = this.states.get(envelope.id);
    if (known) return known.state;
    const text = await this.deps.spool.readState(envelope.id);
    const parsed = text === undefined ? undefined : parseState(text);
    const state = parsed ?? this.initialState(envelope);
    // An unreadable file is replaced by the next write, but is there until then.
    this.states.set(envelope.id, { state, stored: text !== undefined });
    return state;
  }

  private initialState(envelope: Envelope): DeliveryState {
    // A release is an explicit request to send a captured message: nothing in it is captured again.
    const capture = envelope.route === 'release' ? new Set<string>() : this.captureDomains;
    return initialState(envelope, capture, addressDomain);
  }

  private async attempt(envelope: Envelope): Promise<void> {
    const started = this.now().getTime();
    let state = await this.loadState(envelope);
    if (state.held) return;
    const open = openRecipients(state);
    let bytes: MessageBytes | undefined;
    try {
      bytes = open.length > 0 ? await messageBytes(this.deps.spool, envelope) : undefined;
    } catch (error) {
      if (!(error instanceof RecordDamagedError)) throw error;
      await this.dropDamaged(envelope, error);
      return;
    }
    if (state.eightBit === undefined && bytes) state = { ...state, eightBit: await bytes.eightBit() };
    if (this.deps.dkim && state.dkimSignature === undefined && open.length > 0) {
      const signing = await this.sign(envelope, this.deps.dkim, state.eightBit === true);
      if (signing.kind === 'failed') {
        // Unsigned mail from a domain that publishes DMARC is refused by the big receivers:
        // retry later, as OpenDKIM's On-InternalError=tempfail does.
        const outcome = localOutcome('4.7.0', `DKIM signing failed: ${signing.reason}`);
        const results = open.map((r) => ({ address: r.address, outcome }));
        const transition = applyResults(state, envelope, results, this.now(), this.policy());
        this.logAttempt(envelope, results, transition.state, { started, handedOver: this.now().getTime() });
        await this.commit(envelope, transition);
        return;
      }
      state = { ...state, dkimSignature: signing.kind === 'signed' ? signing.header : '' };
    }
    const notifyOf = new Map(envelope.rcptTo.map((r) => [r.address, r]));
    const message: OutboundMessage | undefined = !bytes
      ? undefined
      : state.dkimSignature
        ? await signedMessage(this.deps.spool, envelope, state.dkimSignature, state.eightBit === true)
        : {
            envelope,
            open: bytes.open,
            header: bytes.header,
            eightBit: state.eightBit === true,
            ...(bytes.whole ? { bytes: bytes.whole } : {}),
            ...(bytes.sevenBitPlan ? { sevenBitPlan: bytes.sevenBitPlan } : {}),
          };
    const handedOver = this.now().getTime();
    const results = !message
      ? []
      : await this.courier.deliver(
          message,
          open.map((r) => notifyOf.get(r.address) ?? { address: r.address }),
        );
    // Stopping before any of it went out: the stored state (and schedule) stands.
    if (results.length > 0 && results.every((r) => r.outcome === NOT_ATTEMPTED)) return;
    const transition = applyResults(state, envelope, results, this.now(), this.policy());
    this.logAttempt(envelope, results, transition.state, { started, handedOver });
    await this.commit(envelope, transition);
  }

  /**
   * A message whose spooled bytes fail their CRC is never sent (the receiver would take the
   * damage for the sender's). The journal has copied its segment to quarantine/ and removed it,
   * as it does with damage found at open; its state goes too, and an operator is told. No DSN:
   * Postfix likewise moves a corrupt queue file aside ("corrupt" queue) and bounces nothing.
   */
  private async dropDamaged(envelope: Envelope, error: RecordDamagedError): Promise<void> {
    this.deps.log.error(
      { queueId: envelope.id, quarantined: error.quarantined ?? 'none', err: error.message },
      'queued message damaged in the spool: not delivered',
    );
    if (error.quarantined === undefined) {
      // Nothing was moved aside, so the message is still queued: look again later.
      this.due.set(envelope.id, this.now().getTime() + AFTER_ERROR_MS);
      return;
    }
    await this.deps.spool.remove(envelope.id, { stateless: this.states.get(envelope.id)?.stored === false });
    this.forget(envelope.id);
  }

  /** The worker lets go of a message that is no longer queued: no envelope, state or due time. */
  private forget(id: string): void {
    this.envelopes.delete(id);
    this.states.delete(id);
    this.due.delete(id);
  }

  /**
   * The journal removed a queued message because its record is damaged, found by someone
   * else (the background scrub, a view reading it): without this the worker would keep its
   * envelope and fail every attempt on the missing bytes. An attempt under way ends first (it
   * finds the damage itself, see dropDamaged, or sends bytes it read whole before); then the
   * message is forgotten and its state file removed, through the Spool, like any removal.
   */
  private forgetDamaged(id: string): void {
    this.damaged.add(id);
    const running = this.inFlight.get(id);
    if (running) {
      void running.then(() => {
        this.forgetDamaged(id);
      });
      return;
    }
    // Not known (yet): a rescan under way listed it, or damage open found. Its state file, if
    // one is left, goes all the same; the rescan skips it (see damaged).
    if (this.envelopes.has(id))
      this.deps.log.error({ queueId: id }, 'queued message damaged in the spool: not delivered');
    const stateless = this.states.get(id)?.stored === false;
    this.forget(id);
    this.exclusive(id, () => this.deps.spool.remove(id, { stateless })).catch((error: unknown) => {
      // Left for the next open, which removes a state whose message is gone.
      this.deps.log.error(
        { queueId: id, err: String(error) },
        'could not remove the state of a damaged message',
      );
    });
  }

  /**
   * The signature for a message: over its 7-bit form when it has 8-bit bytes, since that is
   * the form that survives any hop (RFC 6376 §5.3) and the one signedMessage then sends.
   */
  private async sign(envelope: Envelope, signer: DkimSigner, eightBit: boolean) {
    const unsigned = await signedMessage(this.deps.spool, envelope, '', eightBit);
    const outcome = await signer.sign(await unsigned.header(), unsigned.open());
    this.deps.log.info(
      {
        queueId: envelope.id,
        dkim: outcome.kind,
        ...(outcome.kind === 'signed'
          ? { d: outcome.domain, s: outcome.selector }
          : { reason: outcome.reason }),
      },
      outcome.kind === 'signed' ? 'DKIM signed' : `DKIM ${outcome.kind}: ${outcome.reason}`,
    );
    return outcome;
  }

  /**
   * Postfix's per-recipient line: to, relay, delay, delays, dsn, status (sent, deferred,
   * bounced), the status read from the new state (a deferral past the give-up age is a bounce).
   * `started`: when this attempt began; `handedOver`: when the message went to the courier.
   */
  private logAttempt(
    envelope: Envelope,
    results: readonly RecipientResult[],
    state: DeliveryState,
    at: { readonly started: number; readonly handedOver: number },
  ): void {
    const receivedAt = Date.parse(envelope.receivedAt);
    const delay = (this.now().getTime() - receivedAt) / 1000;
    const statusOf = new Map(state.recipients.map((r) => [r.address, r]));
    for (const result of results) {
      const { address } = result;
      const recipient = statusOf.get(address);
      const outcome = recipient?.outcome;
      if (!recipient || !outcome) continue;
      const status =
        recipient.status === 'delivered' ? 'sent' : recipient.status === 'failed' ? 'bounced' : 'deferred';
      this.deps.events?.attempted?.(status);
      this.deps.log.info(
        {
          queueId: envelope.id,
          to: address,
          relay: outcome.remoteMta ?? 'none',
          delay: Math.round(delay * 100) / 100,
          delays: postfixDelays(receivedAt, at.started, at.handedOver, result.timing),
          dsn: outcome.enhanced,
          status,
        },
        `${status} (${describeOutcome(outcome)})`,
      );
    }
  }

  /**
   * Makes a transition happen: the new state durable (or the message removed), then the DSNs
   * of the outbox queued and the outbox emptied, then the message rescheduled or forgotten.
   */
  private async commit(envelope: Envelope, transition: Transition): Promise<void> {
    try {
      await this.record(envelope, transition);
    } catch (error) {
      // The disk may hold the old state or the new one: read it again next time.
      this.states.delete(envelope.id);
      throw error;
    }
  }

  private async record(envelope: Envelope, transition: Transition): Promise<void> {
    const { id } = envelope;
    let state = transition.state;
    const remove = transition.actions.some((a) => a.type === 'remove');
    if (state.outbox.length > 0) {
      // Durable first: a DSN is only sent for a state that is on disk.
      await this.saveState(id, state);
      for (const notice of state.outbox) {
        await queueNotice(this.deps.spool, this.deps.config, envelope, state, notice, this.now());
        this.deps.log.info(
          { queueId: id, kind: notice.kind, recipients: notice.recipients.length },
          'DSN queued',
        );
      }
      state = { ...state, outbox: [] };
    }
    if (remove) {
      // Removing the message (durably) is the whole state change.
      await this.deps.spool.remove(id, { durable: true, stateless: this.states.get(id)?.stored === false });
    } else {
      await this.saveState(id, state);
    }
    if (remove) {
      this.forget(id);
      this.deps.log.info({ queueId: id, attempts: state.attempts }, 'removed');
    } else if (state.held) {
      this.due.delete(id);
    } else {
      this.due.set(id, Date.parse(state.nextAttemptAt));
      this.wake(Date.parse(state.nextAttemptAt) - this.now().getTime());
    }
  }

  private async saveState(id: string, state: DeliveryState): Promise<void> {
    await this.deps.spool.writeState(id, serializeState(state));
    this.states.set(id, { state, stored: true });
  }
}
