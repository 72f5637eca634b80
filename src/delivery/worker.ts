/**
 * The delivery worker: takes queued messages from the spool and delivers them, recipient
 * by recipient, with retries and bounces. Each message is handled by one task at a time;
 * every state change is written durably before anything is done because of it.
 */
import { watch, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { addressDomain } from '../pipeline/stages.js';
import type { Envelope } from '../spool/envelope.js';
import type { Spool } from '../spool/spool.js';
import { expired, nextDelaySeconds } from './backoff.js';
import { applyCommand, controlDir, drainCommands } from './control.js';
import { buildDsn, wantsNotice, type DsnKind } from './dsn.js';
import { enqueueLocal } from './enqueue.js';
import { ConnectionPool } from './pool.js';
import { RouteError, routeFor, systemResolver, type Destination, type Resolver } from './routes.js';
import {
  initialState,
  isFinal,
  openRecipients,
  parseState,
  type DeliveryState,
  type RecipientState,
} from './state.js';
import type { RecipientResult } from './transport.js';
import { settlesWithin } from '../util/deadline.js';

export interface WorkerDeps {
  readonly spool: Spool;
  readonly config: Config;
  readonly log: Logger;
  readonly resolver?: Resolver;
  readonly now?: () => Date;
  readonly random?: () => number;
}

interface Item {
  readonly envelope: Envelope;
  nextAt: number;
  held: boolean;
}

/** RET=FULL returns the whole message up to this size; headers only above it. */
const FULL_RETURN_LIMIT = 256 * 1024;

/** After cutting connections: long enough for each attempt to record its deferral. */
const ABORT_SETTLE_MS = 5000;
const STOPPING = '4.4.2 not attempted: mailwharf was stopping; will retry';

export class DeliveryWorker {
  private readonly items = new Map<string, Item>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly pool: ConnectionPool;
  private readonly resolver: Resolver;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly captureDomains: ReadonlySet<string>;
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private control: Promise<void> = Promise.resolve();
  private stopped = false;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: WorkerDeps) {
    const delivery = deps.config.delivery;
    this.resolver = deps.resolver ?? systemResolver;
    this.now = deps.now ?? (() => new Date());
    this.random = deps.random ?? Math.random;
    this.captureDomains = new Set(delivery.captureDomains.map((d) => addressDomain(`x@${d}`)));
    this.pool = new ConnectionPool(delivery.concurrency.perDestination, {
      name: deps.config.hostname,
      connectTimeoutMs: delivery.connectTimeoutSeconds * 1000,
    });
  }

  async start(): Promise<void> {
    await mkdir(controlDir(this.deps.spool), { recursive: true });
    this.watcher = watch(controlDir(this.deps.spool), () => {
      this.checkControl();
    });
    this.watcher.on('error', () => undefined);
    this.checkControl();
    this.unsubscribe = this.deps.spool.onCommitted((envelope) => {
      if (envelope.state !== 'queued') return;
      this.items.set(envelope.id, { envelope, nextAt: 0, held: false });
      this.schedule(0);
    });
    await this.rescan();
  }

  /** Re-reads the queue from disk (after an operator command) and runs what is due. */
  async rescan(): Promise<void> {
    const envelopes = await this.deps.spool.list();
    const present = new Set<string>();
    for (const envelope of envelopes) {
      if (envelope.state !== 'queued') continue;
      present.add(envelope.id);
      if (this.inFlight.has(envelope.id)) continue;
      const state = await this.loadState(envelope);
      this.items.set(envelope.id, { envelope, nextAt: Date.parse(state.nextAttemptAt), held: state.held });
    }
    for (const id of this.items.keys()) if (!present.has(id) && !this.inFlight.has(id)) this.items.delete(id);
    this.schedule(0);
  }

  /** Applies operator commands from spool/control/, one at a time, never under a running attempt. */
  checkControl(): void {
    this.control = this.control
      .then(() =>
        drainCommands(this.deps.spool, async (command) => {
          if (command.op === 'flush') {
            // "Retry now" needs no disk write: after a crash the stored schedule is as good.
            this.flushNow(command.ids);
            return;
          }
          const targets = command.ids.length === 0 ? [...this.items.keys()] : [...command.ids];
          // Wait for running attempts, then hold the ids so run() starts none while the
          // command rewrites their state.
          for (;;) {
            const busy = targets.flatMap((id) => this.inFlight.get(id) ?? []);
            if (busy.length === 0) break;
            await Promise.allSettled(busy);
          }
          let release = (): void => undefined;
          const reserved = new Promise<void>((resolve) => (release = resolve));
          for (const id of targets) this.inFlight.set(id, reserved);
          try {
            const changed = await applyCommand(this.deps.spool, command, this.now());
            this.deps.log.info({ op: command.op, ids: changed }, 'queue command applied');
          } finally {
            for (const id of targets) if (this.inFlight.get(id) === reserved) this.inFlight.delete(id);
            release();
          }
          await this.rescan();
        }),
      )
      .catch((error: unknown) => {
        this.deps.log.error({ err: String(error) }, 'queue command failed');
      });
  }

  private flushNow(ids: readonly string[]): void {
    const wanted = new Set(ids);
    for (const item of this.items.values()) {
      if (ids.length === 0 || wanted.has(item.envelope.id)) item.nextAt = 0;
    }
    this.deps.log.info({ op: 'flush', ids: ids.length === 0 ? 'all' : ids }, 'queue command applied');
    this.schedule(0);
  }

  /**
   * Starts nothing new and waits for running attempts, at most `graceMs`; then cuts their
   * connections, so a remote that stalls cannot hold up a shutdown. A cut attempt is recorded
   * as deferred and retried after the restart (a remote that had already accepted the
   * message may then get it twice: SMTP's at-least-once, never a loss).
   */
  async stop(graceMs = this.deps.config.shutdownGraceSeconds * 1000): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    this.unsubscribe?.();
    clearTimeout(this.timer);
    const running = Promise.allSettled([this.control, ...this.inFlight.values()]);
    if (!(await settlesWithin(running, graceMs))) {
      this.deps.log.warn(
        { inFlight: this.inFlight.size, graceMs },
        'deliveries still running at the end of the grace period: cutting their connections',
      );
      this.pool.abortAll();
      // Cut sockets fail their sends at once; what remains is the state write of each.
      await settlesWithin(running, ABORT_SETTLE_MS);
    }
    this.pool.closeAll();
  }

  /** Waits until nothing is in flight (for tests and the flush command). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled(this.inFlight.values());
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        this.run();
      },
      Math.max(0, delayMs),
    );
    this.timer.unref();
  }

  private run(): void {
    if (this.stopped) return;
    const now = this.now().getTime();
    const limit = this.deps.config.delivery.concurrency.total;
    const due = [...this.items.values()]
      .filter((item) => !item.held && item.nextAt <= now && !this.inFlight.has(item.envelope.id))
      .sort((a, b) => a.nextAt - b.nextAt);
    for (const item of due) {
      if (this.inFlight.size >= limit) break;
      const id = item.envelope.id;
      const task = this.attempt(item)
        .catch((error: unknown) => {
          this.deps.log.error({ queueId: id, err: String(error) }, 'delivery attempt failed unexpectedly');
          item.nextAt = this.now().getTime() + 60_000;
        })
        .finally(() => {
          this.inFlight.delete(id);
          this.schedule(0);
        });
      this.inFlight.set(id, task);
    }
    const waiting = [...this.items.values()].filter((i) => !i.held && !this.inFlight.has(i.envelope.id));
    // A loop, not Math.min(...): a spread of 100k+ items overflows the call stack.
    let next = now + this.deps.config.delivery.pollSeconds * 1000;
    for (const item of waiting) if (item.nextAt < next) next = item.nextAt;
    if (this.inFlight.size < limit || waiting.length === 0) this.schedule(next - now);
  }

  private async loadState(envelope: Envelope): Promise<DeliveryState> {
    const text = await this.deps.spool.readState(envelope.id);
    const parsed = text === undefined ? undefined : parseState(text);
    // A release is an explicit request to send a captured message: nothing in it is captured again.
    const capture = envelope.route === 'release' ? new Set<string>() : this.captureDomains;
    return parsed ?? initialState(envelope, capture, addressDomain);
  }

  private async saveState(id: string, state: DeliveryState): Promise<void> {
    await this.deps.spool.writeState(id, `${JSON.stringify(state, null, 2)}\n`);
  }

  private async attempt(item: Item): Promise<void> {
    const { envelope } = item;
    const log = this.deps.log.child({ queueId: envelope.id });
    let state = await this.loadState(envelope);
    if (state.held) {
      item.held = true;
      return;
    }
    const now = this.now();
    const retry = this.deps.config.delivery.retry;
    let results: RecipientResult[];
    if (expired(envelope.receivedAt, now, retry)) {
      const reason = `gave up: still undeliverable after ${String(retry.giveUpAfterSeconds)} s (${state.lastError ?? 'no reason'})`;
      results = openRecipients(state).map((r) => ({
        address: r.address,
        outcome: 'failed',
        reason: `4.4.7 ${reason}`,
        remote: r.remote ?? '',
      }));
    } else {
      results = await this.deliver(envelope, openRecipients(state), log);
    }

    const byAddress = new Map(results.map((r) => [r.address, r]));
    const at = now.toISOString();
    const recipients: RecipientState[] = state.recipients.map((r) => {
      const result = byAddress.get(r.address);
      if (!result) return r;
      return { address: r.address, status: result.outcome, reason: result.reason, remote: result.remote, at };
    });
    const deferred = recipients.filter((r) => r.status === 'deferred');
    const attempts = state.attempts + 1;
    const lastError = deferred[0]?.reason ?? results.find((r) => r.outcome === 'failed')?.reason;
    state = {
      ...state,
      attempts,
      recipients,
      nextAttemptAt: new Date(
        now.getTime() + nextDelaySeconds(attempts, retry, this.random) * 1000,
      ).toISOString(),
      ...(lastError === undefined ? {} : { lastError }),
    };
    for (const r of results)
      log.info(
        { rcpt: r.address, outcome: r.outcome, remote: r.remote, reason: r.reason },
        `recipient ${r.outcome}`,
      );
    item.nextAt = Date.parse(state.nextAttemptAt);
    // Every recipient delivered: removing the message (durably) is the whole state change.
    if (state.recipients.every((r) => r.status === 'delivered')) {
      this.items.delete(envelope.id);
      await this.deps.spool.remove(envelope.id, { durable: true });
      log.info({ attempts }, 'delivery finished');
      return;
    }
    // Durable first: a crash after this never repeats what the destination accepted,
    // and a bounce is only sent for a failure that is on disk.
    await this.saveState(envelope.id, state);
    state = await this.notify(envelope, state, log);
    item.nextAt = Date.parse(state.nextAttemptAt);
    if (state.recipients.every((r) => isFinal(r.status))) {
      this.items.delete(envelope.id);
      // Captured recipients have their own copy in the sink (sink/relay-capture.ts).
      await this.deps.spool.remove(envelope.id, { durable: true });
      log.info({ attempts }, 'delivery finished');
    }
  }

  /** Groups open recipients by destination and sends to each; every recipient gets a result. */
  private async deliver(
    envelope: Envelope,
    open: readonly RecipientState[],
    log: Logger,
  ): Promise<RecipientResult[]> {
    const release = this.deps.config.release;
    const route = envelope.route === 'release' && release ? release.route : this.deps.config.delivery.route;
    const byDomain = new Map<string, string[]>();
    for (const r of open) {
      const domain = route.type === 'smarthost' ? '' : addressDomain(r.address);
      byDomain.set(domain, [...(byDomain.get(domain) ?? []), r.address]);
    }
    const results: RecipientResult[] = [];
    for (const [domain, addresses] of byDomain) {
      if (this.stopped) {
        // Stopping: finish the transaction under way, start no other.
        results.push(
          ...addresses.map((address) => ({
            address,
            outcome: 'deferred' as const,
            reason: STOPPING,
            remote: '',
          })),
        );
        continue;
      }
      let destination: Destination;
      try {
        destination = await routeFor(domain, route, this.resolver, this.random);
      } catch (error) {
        const permanent = error instanceof RouteError && error.permanent;
        const reason = `${permanent ? '5.1.2' : '4.4.3'} ${error instanceof Error ? error.message : String(error)}`;
        results.push(
          ...addresses.map((address) => ({
            address,
            outcome: permanent ? ('failed' as const) : ('deferred' as const),
            reason,
            remote: '',
          })),
        );
        continue;
      }
      results.push(...(await this.sendTo(destination, envelope, addresses, log)));
    }
    return results;
  }

  private async sendTo(
    destination: Destination,
    envelope: Envelope,
    addresses: readonly string[],
    log: Logger,
  ): Promise<RecipientResult[]> {
    let connection;
    try {
      connection = await this.pool.acquire(destination);
    } catch (error) {
      const reason = `4.4.1 connection failed: ${error instanceof Error ? error.message : String(error)}`;
      log.warn({ destination: destination.key, reason }, 'destination unreachable');
      return addresses.map((address) => ({ address, outcome: 'deferred', reason, remote: '' }));
    }
    try {
      return await connection.send(
        {
          from: envelope.mailFrom,
          to: addresses,
          size: envelope.size,
          ...(envelope.dsn ? { dsn: envelope.dsn } : {}),
        },
        this.deps.spool.readMessage(envelope),
      );
    } finally {
      this.pool.release(destination, connection);
    }
  }

  /** Bounces and delay warnings, after the state that causes them is durable. */
  private async notify(envelope: Envelope, state: DeliveryState, log: Logger): Promise<DeliveryState> {
    // Never answer the null sender: that is how bounce loops start.
    if (envelope.mailFrom === '') return state;
    const notifyOf = new Map(envelope.rcptTo.map((r) => [r.address, r.notify]));
    let next = state;
    if (!state.bounced) {
      const failed = state.recipients.filter(
        (r) => r.status === 'failed' && wantsNotice(notifyOf.get(r.address), 'failed'),
      );
      const settled = state.recipients.every((r) => r.status !== 'pending' && r.status !== 'deferred');
      if (failed.length > 0 && settled) {
        await this.sendNotice('failed', envelope, failed);
        next = { ...next, bounced: true };
        await this.saveState(envelope.id, next);
        log.info({ recipients: failed.length }, 'bounce queued');
      }
    }
    const warnAfter = this.deps.config.delivery.delayWarningSeconds;
    if (
      warnAfter > 0 &&
      !state.warned &&
      this.now().getTime() - Date.parse(envelope.receivedAt) >= warnAfter * 1000
    ) {
      const delayed = state.recipients.filter(
        (r) => r.status === 'deferred' && wantsNotice(notifyOf.get(r.address), 'delayed'),
      );
      if (delayed.length > 0) {
        await this.sendNotice('delayed', envelope, delayed);
        next = { ...next, warned: true };
        await this.saveState(envelope.id, next);
        log.info({ recipients: delayed.length }, 'delay warning queued');
      }
    }
    return next;
  }

  private async sendNotice(
    kind: DsnKind,
    envelope: Envelope,
    recipients: readonly RecipientState[],
  ): Promise<void> {
    const { headers, full } = await this.readOriginal(envelope);
    const retry = this.deps.config.delivery.retry;
    const message = buildDsn({
      kind,
      envelope,
      recipients,
      hostname: this.deps.config.hostname,
      originalHeaders: headers,
      originalMessage: envelope.dsn?.ret === 'FULL' ? full : undefined,
      now: this.now(),
      retryUntil: new Date(Date.parse(envelope.receivedAt) + retry.giveUpAfterSeconds * 1000),
    });
    await enqueueLocal(this.deps.spool, message, {
      mailFrom: '',
      rcptTo: [envelope.mailFrom],
      hostname: this.deps.config.hostname,
      listener: 'bounce',
    });
  }

  /** The original's header block, and the whole message when small enough to return. */
  private async readOriginal(envelope: Envelope): Promise<{ headers: string; full: string | undefined }> {
    const text = (await this.deps.spool.readBytes(envelope, FULL_RETURN_LIMIT)).toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    return {
      headers: end >= 0 ? text.slice(0, end) : text,
      full: envelope.size <= FULL_RETURN_LIMIT ? text : undefined,
    };
  }
}
