import { OutboundConnection, type ConnectOptions } from './transport.js';
import type { Destination } from './routes.js';

/**
 * Connections per destination: at most `perDestination` at once, and an idle one is
 * reused (after RSET) by the next message for the same place, then closed after a while.
 */
const ABORTED = 'not sent: mailwharf was stopping';

export class ConnectionPool {
  private readonly slots = new Map<
    string,
    { active: number; idle: OutboundConnection[]; waiting: (() => void)[] }
  >();
  private readonly idleTimers = new Map<OutboundConnection, NodeJS.Timeout>();
  /** Connections lent out and not yet given back: what a forced stop must cut. */
  private readonly lent = new Set<OutboundConnection>();
  /** Set by abortAll: a forced stop, after which no connection is lent again. */
  private aborted = false;

  constructor(
    private readonly perDestination: number,
    private readonly options: ConnectOptions,
    private readonly idleMs = 5000,
  ) {}

  private slot(key: string) {
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { active: 0, idle: [], waiting: [] };
      this.slots.set(key, slot);
    }
    return slot;
  }

  /**
   * A connection to the first hop of the destination that answers. Rejects with the last
   * hop's error when none does; the slot is released then.
   */
  async acquire(destination: Destination): Promise<OutboundConnection> {
    const slot = this.slot(destination.key);
    while (slot.active >= this.perDestination) {
      this.refuseIfAborted();
      await new Promise<void>((resolve) => slot.waiting.push(resolve));
    }
    this.refuseIfAborted();
    slot.active++;
    for (let reused = slot.idle.pop(); reused; reused = slot.idle.pop()) {
      clearTimeout(this.idleTimers.get(reused));
      this.idleTimers.delete(reused);
      if (reused.usable && (await reused.reset())) {
        try {
          return this.lend(reused);
        } catch (error) {
          this.releaseSlot(destination.key);
          throw error;
        }
      }
      reused.close();
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
    this.releaseSlot(destination.key);
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

  private refuseIfAborted(): void {
    if (this.aborted) throw new Error(ABORTED);
  }

  release(destination: Destination, connection: OutboundConnection): void {
    this.lent.delete(connection);
    const slot = this.slot(destination.key);
    if (connection.usable) {
      slot.idle.push(connection);
      const timer = setTimeout(() => {
        slot.idle = slot.idle.filter((c) => c !== connection);
        this.idleTimers.delete(connection);
        connection.close();
      }, this.idleMs);
      timer.unref();
      this.idleTimers.set(connection, timer);
    } else {
      connection.close();
    }
    this.releaseSlot(destination.key);
  }

  private releaseSlot(key: string): void {
    const slot = this.slot(key);
    slot.active--;
    slot.waiting.shift()?.();
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
    // Waiters wake to find the pool aborted.
    for (const slot of this.slots.values()) for (const wake of slot.waiting.splice(0)) wake();
  }
}
