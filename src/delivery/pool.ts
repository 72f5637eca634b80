import { ConnectionRateError, type ConnectionLimits } from './destination-rate.js';
import { OutboundConnection, type ConnectOptions } from './transport.js';
import type { Destination } from './routes.js';

/**
 * Connections: at most `total` in use at once, and at most `perDestination` to one
 * destination (Postfix's default_process_limit and default_destination_concurrency_limit).
 * An idle one is reused by the next message for the same place (Postfix's connection cache),
 * then closed after a while. Deliveries wait here for a connection, so the worker can have
 * more messages under way than connections: one reads its files or writes its state while
 * another has the wire.
 */
const ABORTED = 'not sent: mailwharf was stopping';

/**
 * A connection whose last transaction ended with the server's 250 after the data, given back
 * this recently, is at the start of a new transaction (RFC 5321 §4.1.1.4): the next message
 * goes without an RSET round trip, as nodemailer's own pool does. An older one, or one whose
 * last transaction was refused midway, is checked with RSET first.
 */
const WARM_MS = 1000;

/** Thrown by acquire once the pool is stopping: the delivery was not attempted. */
export class PoolStoppingError extends Error {
  constructor() {
    super('not attempted: mailwharf was stopping');
  }
}

interface Slot {
  active: number;
  idle: { connection: OutboundConnection; since: number }[];
  /** The destination's own cap (delivery.rateLimits maxConnections), below perDestination. */
  max?: number;
}

export class ConnectionPool {
  private readonly slots = new Map<string, Slot>();
  /** Connections lent out across every destination. */
  private active = 0;
  /** Deliveries waiting for a connection, first come first served among those that fit. */
  private readonly waiting: { slot: Slot; wake: () => void }[] = [];
  private readonly idleTimers = new Map<OutboundConnection, NodeJS.Timeout>();
  /** Connections lent out and not yet given back: what a forced stop must cut. */
  private readonly lent = new Set<OutboundConnection>();
  /** Set by abortAll: a forced stop, after which no connection is lent again. */
  private aborted = false;
  /** Set by stopping: no new transaction starts (those with a connection finish). */
  private stopped = false;

  constructor(
    private readonly limits: { readonly total: number; readonly perDestination: number },
    private readonly options: ConnectOptions,
    private readonly idleMs = 5000,
  ) {}

  private slot(key: string): Slot {
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { active: 0, idle: [] };
      this.slots.set(key, slot);
    }
    return slot;
  }

  private hasRoom(slot: Slot): boolean {
    return (
      slot.active < Math.min(this.limits.perDestination, slot.max ?? Infinity) &&
      this.active < this.limits.total
    );
  }

  /**
   * A connection to the first hop of the destination that answers. Rejects with the last
   * hop's error when none does; the slot is released then. Rejects with PoolStoppingError
   * once stopping, and with ConnectionRateError when `limits` allow no new connection now.
   */
  async acquire(destination: Destination, limits?: ConnectionLimits): Promise<OutboundConnection> {
    const slot = this.slot(destination.key);
    if (limits?.maxConnections !== undefined) slot.max = limits.maxConnections;
    while (!this.hasRoom(slot)) {
      this.refuseIfStopped();
      await new Promise<void>((wake) => this.waiting.push({ slot, wake }));
    }
    this.refuseIfStopped();
    slot.active++;
    this.active++;
    for (let idle = slot.idle.pop(); idle; idle = slot.idle.pop()) {
      const reused = idle.connection;
      clearTimeout(this.idleTimers.get(reused));
      this.idleTimers.delete(reused);
      const warm = reused.clean && Date.now() - idle.since < WARM_MS;
      if (reused.usable && (warm || (await reused.reset()))) {
        try {
          return this.lend(reused);
        } catch (error) {
          this.releaseSlot(slot);
          throw error;
        }
      }
      reused.close();
    }
    const waitMs = limits?.takeConnection?.();
    if (waitMs !== undefined) {
      this.releaseSlot(slot);
      throw new ConnectionRateError(waitMs);
    }
    let lastError: Error = new Error(`no hop for ${destination.key}`);
    for (const hop of destination.hops) {
      if (this.aborted) {
        lastError = new Error(ABORTED);
        break;
      }
      try {
        return this.lend(await OutboundConnection.connect(hop, this.options));
      } catch (error) {
        lastError = error instanceof Error ? error : new Error(String(error));
        lastError.message = `${hop.host}:${String(hop.port)}: ${lastError.message}`;
      }
    }
    this.releaseSlot(slot);
    throw lastError;
  }

  private lend(connection: OutboundConnection): OutboundConnection {
    if (this.aborted) {
      // Connected (or reset) after a forced stop began: nothing more goes out.
      connection.close();
      throw new Error(ABORTED);
    }
    this.lent.add(connection);
    return connection;
  }

  private refuseIfStopped(): void {
    if (this.aborted) throw new Error(ABORTED);
    if (this.stopped) throw new PoolStoppingError();
  }

  release(destination: Destination, connection: OutboundConnection): void {
    this.lent.delete(connection);
    const slot = this.slot(destination.key);
    if (connection.usable && !this.stopped) {
      slot.idle.push({ connection, since: Date.now() });
      const timer = setTimeout(() => {
        slot.idle = slot.idle.filter((c) => c.connection !== connection);
        this.idleTimers.delete(connection);
        connection.close();
      }, this.idleMs);
      timer.unref();
      this.idleTimers.set(connection, timer);
    } else {
      connection.close();
    }
    this.releaseSlot(slot);
  }

  private releaseSlot(slot: Slot): void {
    slot.active--;
    this.active--;
    const next = this.waiting.findIndex((w) => this.hasRoom(w.slot));
    if (next >= 0) this.waiting.splice(next, 1)[0]?.wake();
  }

  /** Starts no new transaction: deliveries waiting for a connection are refused now. */
  stopping(): void {
    this.stopped = true;
    this.wakeAll();
  }

  closeAll(): void {
    for (const [connection, timer] of this.idleTimers) {
      clearTimeout(timer);
      connection.close();
    }
    this.idleTimers.clear();
    for (const slot of this.slots.values()) slot.idle = [];
  }

  /** Cuts the connections in use too: their transactions fail and are retried later. */
  abortAll(): void {
    this.aborted = true;
    for (const connection of this.lent) connection.close();
    this.closeAll();
    this.wakeAll();
  }

  /** Waiters wake to find the pool stopping or aborted. */
  private wakeAll(): void {
    for (const waiter of this.waiting.splice(0)) waiter.wake();
  }
}
