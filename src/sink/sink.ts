/**
 * The captured-mail index behind the web UI and the HTTP API. Built from the spool at
 * start (from cached summaries; mailparser only for messages not yet summarised), kept
 * current from spool commits, pruned by retention. Storage never knows the web exists:
 * it tells listeners "something changed" and they decide what to send.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Envelope } from '../spool/envelope.js';
import { isQueueId } from '../spool/queue-id.js';
import type { Spool } from '../spool/spool.js';
import { compileQuery } from './search.js';
import { summarize, type IndexedMessage } from './summary.js';

export type SinkEvent =
  | { readonly type: 'new'; readonly message: IndexedMessage }
  | { readonly type: 'update'; readonly ids: readonly string[]; readonly read: boolean }
  | { readonly type: 'delete'; readonly ids: readonly string[]; readonly reason: 'api' | 'retention' }
  | { readonly type: 'truncate' };

export interface Page {
  readonly messages: readonly IndexedMessage[];
  /** Messages matching (all of them for a plain list). */
  readonly count: number;
  readonly unread: number;
}

const PARSED_CACHE = 16;

export class Sink {
  private readonly byId = new Map<string, IndexedMessage>();
  /** Newest first. */
  private order: string[] = [];
  private readonly listeners = new Set<(event: SinkEvent) => void>();
  private readonly parsedCache = new Map<string, Promise<ParsedMail>>();
  private indexing: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private readonly dir: string;

  private constructor(
    private readonly spool: Spool,
    private readonly retention: Config['sink']['retention'],
    private readonly log: Logger,
  ) {
    this.dir = join(spool.dir, 'sink');
  }

  static async open(spool: Spool, config: Config['sink'], log: Logger): Promise<Sink> {
    const sink = new Sink(spool, config.retention, log);
    await sink.load();
    return sink;
  }

  private async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const envelopes = (await this.spool.list()).filter((e) => e.state === 'captured');
    const live = new Set(envelopes.map((e) => e.id));
    for (const name of await readdir(this.dir)) {
      const id = name.replace(/\.json$/, '');
      if (!live.has(id)) await rm(join(this.dir, name), { force: true });
    }
    let parsed = 0;
    for (const envelope of envelopes) {
      const cached = await this.readCached(envelope.id);
      if (cached) {
        this.byId.set(envelope.id, cached);
        continue;
      }
      const message = await this.index(envelope);
      if (message) parsed++;
    }
    this.order = [...this.byId.keys()].sort().reverse();
    this.log.info({ messages: this.byId.size, parsed }, 'sink index loaded');
    this.unsubscribe = this.spool.onCommitted((envelope) => {
      if (envelope.state !== 'captured') return;
      // One message parsed at a time, after its 250: bounded memory, off the intake path.
      this.indexing = this.indexing
        .then(async () => {
          const message = await this.index(envelope);
          if (!message) return;
          this.order.unshift(message.id);
          this.emit({ type: 'new', message });
          await this.prune();
        })
        .catch((error: unknown) => {
          this.log.error({ err: String(error), queueId: envelope.id }, 'sink indexing failed');
        });
    });
    await this.prune();
    // Age-based retention also applies while no mail arrives.
    if (this.retention.maxAgeHours > 0) {
      this.pruneTimer = setInterval(() => {
        this.indexing = this.indexing
          .then(() => this.prune())
          .catch((error: unknown) => {
            this.log.error({ err: String(error) }, 'retention pruning failed');
          });
      }, 60_000);
      this.pruneTimer.unref();
    }
  }

  close(): Promise<void> {
    clearInterval(this.pruneTimer);
    this.unsubscribe?.();
    return this.indexing;
  }

  /** Resolves once every message committed so far is in the index. */
  settled(): Promise<void> {
    return this.indexing;
  }

  private async readCached(id: string): Promise<IndexedMessage | undefined> {
    try {
      const value = JSON.parse(
        await readFile(join(this.dir, `${id}.json`), 'utf8'),
      ) as Partial<IndexedMessage>;
      return value.version === 1 && value.id === id ? (value as IndexedMessage) : undefined;
    } catch {
      return undefined;
    }
  }

  private async writeCached(message: IndexedMessage): Promise<void> {
    // A cache: rebuilt from the spool if lost, so no fsync.
    await writeFile(join(this.dir, `${message.id}.json`), JSON.stringify(message));
  }

  private async index(envelope: Envelope): Promise<IndexedMessage | undefined> {
    try {
      const parsed = await simpleParser(this.spool.readMessage(envelope));
      const message = summarize(envelope, parsed);
      this.byId.set(envelope.id, message);
      await this.writeCached(message);
      return message;
    } catch (error) {
      this.log.error({ queueId: envelope.id, err: String(error) }, 'could not index a captured message');
      return undefined;
    }
  }

  on(listener: (event: SinkEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: SinkEvent): void {
    for (const listener of this.listeners) {
      // A listener's bug must not stop the index (nor reach the process as a rejection).
      try {
        listener(event);
      } catch (error) {
        this.log.error({ err: String(error) }, 'sink listener failed');
      }
    }
  }

  stats(): { total: number; unread: number } {
    let unread = 0;
    for (const message of this.byId.values()) if (!message.read) unread++;
    return { total: this.byId.size, unread };
  }

  /** Every message, newest first, optionally narrowed by a search query and a predicate. */
  private matching(query: string | undefined, scope?: (m: IndexedMessage) => boolean): IndexedMessage[] {
    const predicate = query === undefined || query.trim() === '' ? () => true : compileQuery(query);
    const out: IndexedMessage[] = [];
    for (const id of this.order) {
      const message = this.byId.get(id);
      if (message && predicate(message) && (!scope || scope(message))) out.push(message);
    }
    return out;
  }

  page(
    query: string | undefined,
    start: number,
    limit: number,
    scope?: (m: IndexedMessage) => boolean,
  ): Page {
    const all = this.matching(query, scope);
    return {
      messages: all.slice(start, start + limit),
      count: all.length,
      unread: all.filter((m) => !m.read).length,
    };
  }

  /** A message by id, or the newest one (matching the query) for "latest". */
  get(id: string, query?: string): IndexedMessage | undefined {
    if (id === 'latest') return this.matching(query)[0];
    return this.byId.get(id);
  }

  /** The full parse, for the message view and parts; a few are cached. */
  parsed(message: { readonly id: string; readonly size: number }): Promise<ParsedMail> {
    const id = message.id;
    let pending = this.parsedCache.get(id);
    if (!pending) {
      pending = simpleParser(this.spool.readMessage(message));
      this.parsedCache.set(id, pending);
      pending.catch(() => this.parsedCache.delete(id));
      if (this.parsedCache.size > PARSED_CACHE) {
        const oldest = this.parsedCache.keys().next().value;
        if (oldest !== undefined) this.parsedCache.delete(oldest);
      }
    }
    return pending;
  }

  async setRead(ids: readonly string[] | undefined, read: boolean): Promise<void> {
    const targets = ids ?? [...this.byId.keys()];
    const changed: string[] = [];
    for (const id of targets) {
      const message = this.byId.get(id);
      if (!message || message.read === read) continue;
      const updated = { ...message, read };
      this.byId.set(id, updated);
      await this.writeCached(updated);
      changed.push(id);
    }
    if (changed.length > 0) this.emit({ type: 'update', ids: changed, read });
  }

  async delete(ids: readonly string[] | undefined, reason: 'api' | 'retention' = 'api'): Promise<void> {
    const all = ids === undefined;
    const targets = (ids ?? [...this.byId.keys()]).filter((id) => isQueueId(id) && this.byId.has(id));
    for (const id of targets) {
      await this.spool.remove(id);
      await rm(join(this.dir, `${id}.json`), { force: true });
      this.byId.delete(id);
      this.parsedCache.delete(id);
    }
    const gone = new Set(targets);
    this.order = this.order.filter((id) => !gone.has(id));
    if (all && reason === 'api') this.emit({ type: 'truncate' });
    else if (targets.length > 0) this.emit({ type: 'delete', ids: targets, reason });
  }

  /** Retention: oldest first, until within the count, age and size caps. */
  private async prune(): Promise<void> {
    const { maxMessages, maxAgeHours, maxTotalMiB } = this.retention;
    let total = 0;
    for (const message of this.byId.values()) total += message.size;
    const cutoff = maxAgeHours > 0 ? Date.now() - maxAgeHours * 3600 * 1000 : -Infinity;
    const victims: string[] = [];
    let count = this.order.length;
    for (let index = this.order.length - 1; index >= 0; index--) {
      const id = this.order[index] ?? '';
      const message = this.byId.get(id);
      if (!message) continue;
      const tooMany = maxMessages > 0 && count > maxMessages;
      const tooBig = maxTotalMiB > 0 && total > maxTotalMiB * 1024 * 1024;
      const tooOld = Date.parse(message.created) < cutoff;
      if (!tooMany && !tooBig && !tooOld) break;
      victims.push(id);
      count--;
      total -= message.size;
    }
    if (victims.length === 0) return;
    await this.delete(victims, 'retention');
    this.log.info(
      { pruned: victims.length, maxMessages, maxAgeHours, maxTotalMiB },
      'retention pruned captured messages',
    );
  }
}
