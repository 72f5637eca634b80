/**
 * The captured-mail index behind the web UI, the HTTP API and the test fixture: SQLite in
 * the spool directory (the spool stays the source of truth for bytes). A message is indexed
 * on its way to the 250 (Spool.onCommitted), so whoever holds a 250 finds it; a large one
 * from its header block first, completed right after. On open the index is reconciled with
 * the spool, parsing only what it lacks. Storage never knows the web exists: it tells
 * listeners "something changed" and they decide what to send.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ParsedMail } from 'mailparser';
import { parseMail } from './mail-parser.js';
import type { Logger } from 'pino';
import { ConfigError } from '../config/errors.js';
import { formatPath } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Envelope } from '../spool/envelope.js';
import { isQueueId } from '../spool/queue-id.js';
import type { Spool } from '../spool/spool.js';
import { Limiter } from '../util/limiter.js';
import { promised } from '../util/promised.js';
import { CorruptIndexError, openDatabase, type IndexDatabase } from './database.js';
import { MessageIndex, newMessage, type Page } from './message-index.js';
import { migrate, NewerIndexError } from './migrations.js';
import { parseHeader, parseWhole, within, type WholeParse } from './parse.js';
import { RowWriter } from './row-writer.js';
import { allOf, compileQuery, mailboxCondition, type Condition } from './search.js';
import type { IndexedMessage, Summary } from './summary.js';
import { intakeTagging, tagRuleProblems, type IntakeTagging } from './tag-rules.js';
import { attachText, pairTextFile, removeTextFile } from './text-file.js';
import { openTextMover, type TextMover } from './text-mover.js';
import { TextMoves } from './text-moves.js';
import type { WriterSetup } from './writer-protocol.js';
import { inlineWrites, WriterThread, type IndexWrites } from './writer-thread.js';

export type { Page } from './message-index.js';

export type SinkEvent =
  | { readonly type: 'new'; readonly message: IndexedMessage }
  | { readonly type: 'update'; readonly ids: readonly string[]; readonly read: boolean }
  /** Tags changed over the API: each message's tags as they are now. */
  | {
      readonly type: 'tags';
      readonly messages: readonly { readonly id: string; readonly tags: readonly string[] }[];
    }
  /** A header-derived row now has its body: snippet, attachments, body search. */
  | { readonly type: 'complete'; readonly message: IndexedMessage }
  | { readonly type: 'delete'; readonly ids: readonly string[]; readonly reason: DeleteReason }
  | { readonly type: 'truncate' };

/** Why rows went: the API, retention, or the spool found the message's bytes damaged (removed). */
export type DeleteReason = 'api' | 'retention' | 'damaged';

export interface SinkOptions {
  /**
   * Messages up to this size are parsed whole before the 250 (within parseBeforeReplyMs);
   * larger or slower ones get a row from their header block first. The test fixture parses
   * everything before the 250, since a test reads what it sent at once.
   */
  readonly parseBeforeReplyBytes?: number;
  readonly parseBeforeReplyMs?: number;
  /** Each whole parse, as it is made (the fixture keeps them for its tests). */
  readonly onParsed?: (id: string, parsed: ParsedMail) => void;
  /** The index threads' script (see writerScript); tests give one that fails. */
  readonly writerScript?: URL;
}

interface PendingInsert {
  readonly summary: Summary;
  /** The row as written (with its intake tags), or undefined if the id was indexed already. */
  readonly resolve: (stored: Summary | undefined | Promise<Summary | undefined>) => void;
  readonly reject: (error: unknown) => void;
}

export const INDEX_FILE = 'sink.sqlite';
const PARSED_CACHE = 16;
/** Unlinks under way at once when deleting or pruning many messages. */
const UNLINKS_AT_ONCE = 16;
/** Unlinks recorded as finished together (a crash redoes at most one slice). */
const UNLINKS_PER_SLICE = 2000;
/** A group commit waits at most this long for the messages being parsed when it began. */
const GROUP_WAIT_MS = 2;
/** Rows inserted per transaction while reconciling. */
const ROWS_PER_TRANSACTION = 500;
/** Messages parsed at once while reconciling at start. */
const PARSES_AT_ONCE = 4;

export class Sink {
  private readonly listeners = new Set<(event: SinkEvent) => void>();
  private readonly parsedCache = new Map<string, Promise<ParsedMail>>();
  /** Completions of header-derived rows and retention passes, one at a time, in order. */
  private background: Promise<void> = Promise.resolve();
  private pruneQueued = false;
  /** Intake's writes made on this thread: reconciling at start, and if the writer thread fails. */
  private readonly rows: RowWriter;
  /** Where intake's writes go: here, or the writer thread once intake begins (see writer-thread.ts). */
  private writes: IndexWrites;
  /** What the writer thread needs to start, until it is started (a server's sink, not reindex). */
  private threadSetup: WriterSetup | undefined;
  /** Where the text mover's rounds are made: here, or its thread once the first is due. */
  private moverWrites: IndexWrites;
  private moverSetup: WriterSetup | undefined;
  /** The text mover on this thread's own connection, opened at its first round here. */
  private inlineMover: TextMover | undefined;
  private readonly texts: TextMoves;
  /** True when this start trusted the index (queue/ unchanged since the last clean close). */
  queueUnchanged = false;
  /** Inserts waiting for the group commit (see insertGrouped). */
  private inserts: PendingInsert[] = [];
  /** Committed messages being parsed for their row, by the order they came (see insertGrouped). */
  private readonly indexing = new Set<number>();
  /** The indexCommitted calls not yet finished. */
  private readonly indexingNow = new Set<Promise<void>>();
  private nextOrdinal = 0;
  /** The waiting group commit also waits for messages that came before this one. */
  private groupCutoff = 0;
  private groupTimer: NodeJS.Timeout | undefined;
  private flushQueued = false;
  /** A group is being written; the next gathers meanwhile (see flushInserts). */
  private writingGroup = false;
  /** Unlinks of deleted messages' files, after their rows are gone. */
  private unlinking: Promise<void> = Promise.resolve();
  private closing = false;
  private unsubscribe: (() => void) | undefined;
  private unsubscribeDamaged: (() => void) | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private readonly parseBeforeReplyBytes: number;
  private readonly parseBeforeReplyMs: number;

  private readonly index: MessageIndex;

  private constructor(
    private readonly spool: Spool,
    private readonly db: IndexDatabase,
    /** The connection that reads with conditions: the text file attached (see TextScope). */
    private readonly reads: IndexDatabase,
    private readonly retention: Config['sink']['retention'],
    private readonly log: Logger,
    private readonly options: SinkOptions,
    tagging: IntakeTagging,
  ) {
    this.parseBeforeReplyBytes = options.parseBeforeReplyBytes ?? 256 * 1024;
    this.parseBeforeReplyMs = options.parseBeforeReplyMs ?? 2000;
    this.index = new MessageIndex(db, reads);
    this.rows = new RowWriter(db, new MessageIndex(db), tagging);
    this.writes = inlineWrites(this.rows, () => this.textMoverHere());
    this.moverWrites = this.writes;
    this.texts = new TextMoves(() => this.textMoving(), log);
  }

  /** The text mover on this thread, opened at its first round here. */
  private textMoverHere(): TextMover {
    this.inlineMover ??= openTextMover(this.indexPath());
    return this.inlineMover;
  }

  private indexPath(): string {
    return join(this.spool.dir, INDEX_FILE);
  }

  static async open(
    spool: Spool,
    config: Config['sink'],
    log: Logger,
    options: SinkOptions = {},
  ): Promise<Sink> {
    const tagging = compileTagging(config);
    const { db, reads } = await openIndex(spool, log);
    const sink = new Sink(spool, db, reads, config.retention, log, options, tagging);
    try {
      // queue/ as it was at the last clean close: the index agrees with it, so the start
      // reads nothing (O(1), not a listing of 100,000 files). Otherwise (a crash, messages
      // taken in with the sink off, a queue command, a new index) the listing is compared.
      const mark = sink.index.takeCleanMark();
      sink.queueUnchanged = mark !== undefined && mark === (await spool.queueChanged());
      if (sink.queueUnchanged) sink.trustIndex();
      else await sink.reconcile();
    } catch (error) {
      sink.closeConnections();
      throw error;
    }
    const setup = {
      path: sink.indexPath(),
      tagging: {
        tagRules: config.tagRules,
        tagUsername: config.tagUsername,
        plusAddressTags: config.plusAddressTags,
      },
    };
    sink.threadSetup = { ...setup, role: 'rows' };
    sink.moverSetup = { ...setup, role: 'text' };
    // Text left staged (by a crash, a reconcile, or an index brought forward from one file)
    // moves in the background; it is searched where it is meanwhile.
    sink.texts.note(sink.index.textBacklog());
    sink.unsubscribe = spool.onCommitted((envelope, bytes) =>
      sink.track(sink.indexCommitted(envelope, bytes)),
    );
    // The journal removed a damaged message (the scrub, or any read of it): its row goes too,
    // with the usual delete event, rather than listing a message whose raw download fails.
    sink.unsubscribeDamaged = spool.onDamagedRemoved((id) => {
      sink.delete([id], 'damaged').catch((error: unknown) => {
        // Listed until the next start, whose reconcile drops the row of a file that is gone.
        log.error({ err: String(error), queueId: id }, 'could not remove a damaged message from the index');
      });
    });
    sink.schedulePrune();
    // Age-based retention also applies while no mail arrives.
    if (config.retention.maxAgeHours > 0) {
      sink.pruneTimer = setInterval(() => {
        sink.schedulePrune();
      }, 60_000);
      sink.pruneTimer.unref();
    }
    return sink;
  }

  /**
   * Rebuilds the index of a spool from its files (`mailwharf sink reindex`); the server must be
   * stopped. Intake tags are applied again; tags set over the API are lost with the old index.
   */
  static async reindex(
    spool: Spool,
    log: Logger,
    config: Pick<Config['sink'], 'tagRules' | 'tagUsername' | 'plusAddressTags'>,
  ): Promise<{ messages: number }> {
    const tagging = compileTagging(config);
    await removeIndexFiles(spool);
    const { db, reads } = await openIndex(spool, log);
    const sink = new Sink(
      spool,
      db,
      reads,
      { maxMessages: 0, maxAgeHours: 0, maxTotalMiB: 0 },
      log,
      {},
      tagging,
    );
    try {
      await sink.reconcile();
      // All of the text moves now: the next start should find nothing staged.
      sink.textMoverHere().moveAll();
      sink.index.setCleanMark(await spool.queueChanged());
      return { messages: sink.index.stats().total };
    } finally {
      sink.closeConnections();
    }
  }

  /** Closes this thread's connections (the threads close their own). */
  private closeConnections(): void {
    this.inlineMover?.close();
    this.inlineMover = undefined;
    this.reads.close();
    this.db.close();
  }

  /**
   * Where intake's writes go. The writer thread starts with the first of them, not at open:
   * its ~100 ms of CPU would delay "ready", and a sink that never takes mail never needs it.
   * If it cannot start, they stay here.
   */
  private intakeWrites(): IndexWrites {
    if (this.threadSetup !== undefined) this.writes = this.startThread(this.threadSetup, this.writes);
    this.threadSetup = undefined;
    return this.writes;
  }

  /** Where the text mover's rounds go: its thread, started at the first round (as intakeWrites). */
  private textMoving(): IndexWrites {
    if (this.moverSetup !== undefined) this.moverWrites = this.startThread(this.moverSetup, this.moverWrites);
    this.moverSetup = undefined;
    return this.moverWrites;
  }

  /** A thread for `setup`'s role, or `here` if it cannot start (logged). */
  private startThread(setup: WriterSetup, here: IndexWrites): IndexWrites {
    try {
      return new WriterThread(setup, this.log, here, this.options.writerScript);
    } catch (error) {
      this.log.error(
        { err: String(error) },
        setup.role === 'rows'
          ? 'sink writer thread not started; the main thread writes the index'
          : 'sink text thread not started; the main thread moves text',
      );
      return here;
    }
  }

  /** A start on an index that agrees with queue/: only a delete cut short by close is finished. */
  private trustIndex(): void {
    const interrupted = this.index.deleting();
    if (interrupted.length > 0) this.unlinkLater(interrupted);
    this.log.info(
      {
        messages: this.index.stats().total,
        added: 0,
        completed: 0,
        dropped: 0,
        deletesFinished: interrupted.length,
      },
      'sink index ready',
    );
  }

  /**
   * Makes the index agree with the spool from a directory listing compared with the index:
   * drops rows whose file is gone, indexes files it lacks (captured ones: what a crash cut
   * off between commit and insert) and completes header-derived rows. Already-indexed
   * messages are not read at all. Files of a delete a crash cut short are unlinked in the
   * background (their rows are gone already, so nothing shows them meanwhile).
   */
  private async reconcile(): Promise<void> {
    const interrupted = this.index.deleting();
    const beingDeleted = new Set(interrupted);
    const files = await this.spool.ids();
    const onDisk = new Set(files);
    const indexed = this.index.allIds();
    const vanished = [...indexed].filter((id) => !onDisk.has(id));
    if (vanished.length > 0) this.index.finishDeleting(this.index.remove(vanished));
    const missing = files.filter((id) => !indexed.has(id) && !beingDeleted.has(id)).sort();
    this.index.recount();
    const incomplete = this.index.incompleteIds();
    const parses = new Limiter(PARSES_AT_ONCE);
    let added = 0;
    // Parsed side by side, inserted in arrival order so the list keeps it.
    const parsed = missing.map((id) =>
      parses.run(async () => {
        const envelope = await this.spool.envelope(id);
        return envelope?.state === 'captured' ? parseWhole(this.spool, envelope) : undefined;
      }),
    );
    let batch: WholeParse[] = [];
    // Many rows per transaction: a commit each would cost more than the insert.
    const flush = (): void => {
      const rows = batch;
      batch = [];
      added += this.rows
        .insert(rows.map((whole) => whole.summary))
        .filter((outcome) => outcome.kind === 'inserted').length;
    };
    for (const pending of parsed) {
      const whole = await pending;
      if (whole) batch.push(whole);
      if (batch.length >= ROWS_PER_TRANSACTION) flush();
    }
    flush();
    for (const id of incomplete) {
      const envelope = await this.spool.envelope(id);
      if (envelope) this.rows.complete((await parseWhole(this.spool, envelope)).summary);
    }
    if (interrupted.length > 0) this.unlinkLater(interrupted);
    this.log.info(
      {
        messages: this.index.stats().total,
        added,
        completed: incomplete.length,
        dropped: vanished.length,
        deletesFinished: interrupted.length,
      },
      'sink index ready',
    );
  }

  /** On the way to the 250: after this resolves, every reader sees the message. Never throws. */
  private async indexCommitted(envelope: Envelope, bytes: Buffer | undefined): Promise<void> {
    if (envelope.state !== 'captured') return;
    const ordinal = this.nextOrdinal++;
    this.indexing.add(ordinal);
    try {
      // The fixture's tests read the whole parse (text as HTML, checksums); the sink's own index does not.
      const options = this.options.onParsed ? {} : undefined;
      const whole =
        envelope.size <= this.parseBeforeReplyBytes
          ? parseWhole(this.spool, envelope, bytes, options)
          : undefined;
      const done = whole ? await within(whole, this.parseBeforeReplyMs) : undefined;
      if (done) {
        await this.insert(done, ordinal);
        return;
      }
      const header = await parseHeader(this.spool, envelope);
      const stored = await this.insertGrouped(header, ordinal);
      if (!stored) return;
      this.emitNew(stored);
      this.afterReply(async () => {
        const completed = await (whole ?? parseWhole(this.spool, envelope, undefined, options));
        if (completed.parsed) this.options.onParsed?.(envelope.id, completed.parsed);
        if (!(await this.intakeWrites().complete(completed.summary))) return;
        this.texts.note(1);
        const message = this.index.get(envelope.id);
        if (message) this.emit({ type: 'complete', message });
      });
    } catch (error) {
      // Durable in the spool regardless: the next start indexes it.
      this.log.error({ err: String(error), queueId: envelope.id }, 'could not index a captured message');
    } finally {
      this.doneParsing(ordinal);
    }
  }

  private async insert(whole: WholeParse, ordinal: number): Promise<void> {
    if (whole.parsed) this.options.onParsed?.(whole.summary.id, whole.parsed);
    if (whole.summary.parseError !== undefined) {
      this.log.warn(
        { queueId: whole.summary.id, reason: whole.summary.parseError },
        'captured message could not be parsed; indexed from its envelope and raw source',
      );
    }
    const stored = await this.insertGrouped(whole.summary, ordinal);
    if (stored) this.emitNew(stored);
  }

  /**
   * Group commit: one transaction for the rows of every message committed by the time the
   * group's first row came, and each waiting 250 goes out once it has committed (a commit per
   * message cost more than its insert under load). The group waits for those still being
   * parsed (each parse ends in a turn of the event loop of its own, so a flush on the next
   * turn took ~2 rows under load), at most GROUP_WAIT_MS; messages that come later go to
   * the next group, so none waits for ever. Resolves to the row as written if it is new.
   */
  private insertGrouped(summary: Summary, ordinal: number): Promise<Summary | undefined> {
    return new Promise((resolve, reject) => {
      this.inserts.push({ summary, resolve, reject });
      if (this.inserts.length === 1) {
        this.groupCutoff = this.nextOrdinal;
        this.groupTimer = setTimeout(() => {
          this.flushInserts();
        }, GROUP_WAIT_MS);
        // The sessions waiting on this group keep the process alive; the timer itself need not.
        this.groupTimer.unref();
      }
      this.doneParsing(ordinal);
    });
  }

  /** A message's row is queued (or it has none): the group commit may be waiting only for it. */
  private doneParsing(ordinal: number): void {
    if (!this.indexing.delete(ordinal) || this.inserts.length === 0 || this.flushQueued) return;
    // The set keeps the order messages came in: its first is the oldest still being parsed.
    const oldest = this.indexing.values().next().value;
    if (oldest !== undefined && oldest < this.groupCutoff) return;
    this.flushQueued = true;
    // On the next turn, so that rows queued in this one join.
    setImmediate(() => {
      this.flushInserts();
    });
  }

  private flushInserts(): void {
    clearTimeout(this.groupTimer);
    this.groupTimer = undefined;
    this.flushQueued = false;
    // One group at a time: rows that come while one is written join the next, sent as soon as
    // it is answered. Under load groups grow with the load instead of queueing at the writer
    // one or two rows each (a commit per group costs more than its rows).
    if (this.writingGroup) return;
    const batch = this.inserts;
    this.inserts = [];
    if (batch.length === 0) return;
    this.writingGroup = true;
    promised(() => this.intakeWrites().insert(batch.map((item) => item.summary)))
      .then(
        (outcomes) => {
          this.texts.note(outcomes.filter((outcome) => outcome.kind === 'inserted').length);
          batch.forEach((item, index) => {
            const outcome = outcomes[index];
            if (outcome?.kind === 'inserted') item.resolve({ ...item.summary, tags: [...outcome.tags] });
            // A queue id is committed once, so a row already there was written by this very
            // request: the writer thread committed it and failed before it answered, and the
            // write was made again here. It is new to every listener (and may want completing).
            else if (outcome?.kind === 'present') item.resolve(promised(() => this.storedRow(item.summary)));
            else item.reject(new Error(outcome?.error ?? 'the index writer gave no answer for it'));
          });
        },
        (error: unknown) => {
          for (const item of batch) item.reject(error);
        },
      )
      .finally(() => {
        this.writingGroup = false;
        if (this.inserts.length > 0) this.flushInserts();
      })
      .catch((error: unknown) => {
        this.log.error({ err: String(error) }, 'sink group commit failed');
      });
  }

  /** The summary as its row was written: with the tags the row has. */
  private storedRow(summary: Summary): Summary | undefined {
    const tags = this.index.tagsOf([summary.id]).get(summary.id);
    return tags === undefined ? undefined : { ...summary, tags };
  }

  /** Indexing of a committed message under way; close waits for it (its 250 does too). */
  private track(indexing: Promise<void>): Promise<void> {
    this.indexingNow.add(indexing);
    void indexing.finally(() => this.indexingNow.delete(indexing));
    return indexing;
  }

  /** Told from the summary just inserted (reading the row back would cost a query and its JSON). */
  private emitNew(summary: Summary): void {
    this.emit({ type: 'new', message: newMessage(summary) });
    this.schedulePrune();
  }

  private afterReply(work: () => Promise<void>): void {
    this.background = this.background.then(work).catch((error: unknown) => {
      this.log.error({ err: String(error) }, 'sink background work failed');
    });
  }

  async close(): Promise<void> {
    clearInterval(this.pruneTimer);
    // Whatever comes now is written here: a thread started for it would only be stopped.
    this.threadSetup = undefined;
    this.moverSetup = undefined;
    this.unsubscribe?.();
    this.unsubscribeDamaged?.();
    // Messages committed before the unsubscribe are indexed first: the clean mark says the
    // index has every captured message. Their parses may still be under way.
    while (this.indexingNow.size > 0) {
      this.flushInserts();
      await Promise.all(this.indexingNow);
    }
    this.flushInserts();
    await this.settledBackground();
    this.closing = true;
    await this.unlinking;
    await this.writes.close();
    // What is still staged stays so, and moves after the next start.
    await this.texts.close();
    await this.moverWrites.close();
    this.closeIndex(await this.spool.queueChanged());
  }

  /** Closes the database, marking it as agreeing with queue/ as it is now (see open). */
  private closeIndex(queueChanged: string): void {
    this.index.setCleanMark(queueChanged);
    this.closeConnections();
  }

  /** Background work done, including what it queued meanwhile (a completion schedules a prune). */
  private async settledBackground(): Promise<void> {
    for (let background = this.background; ; background = this.background) {
      await background;
      if (background === this.background) return;
    }
  }

  /** Resolves once header-derived rows are completed, retention has run and deleted files are gone. */
  async settled(): Promise<void> {
    // Background work may queue more (a completion schedules a prune, a prune unlinks).
    for (;;) {
      const background = this.background;
      const unlinking = this.unlinking;
      await Promise.all([background, unlinking]);
      if (background === this.background && unlinking === this.unlinking) return;
    }
  }

  /** Ids indexed or being deleted: the files Spool.checkFiles need not read. */
  knownIds(): Set<string> {
    const ids = this.index.allIds();
    for (const id of this.index.deleting()) ids.add(id);
    return ids;
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
    return this.index.stats();
  }

  /** Bytes of every indexed message (kept, not counted). */
  totalBytes(): number {
    return this.index.totals().bytes;
  }

  /** Throws SearchSyntaxError for a bad query. */
  condition(query: string | undefined, mailbox?: string): Condition {
    return allOf([compileQuery(query), mailboxCondition(mailbox)]);
  }

  /** Newest first, narrowed by a search query and a mailbox. */
  page(query: string | undefined, start: number, limit: number, mailbox?: string): Page {
    return this.index.page(this.condition(query, mailbox), start, limit);
  }

  /** Matching messages, oldest first (arrival order). */
  list(where: Condition): IndexedMessage[] {
    return this.index.all(where);
  }

  ids(where: Condition): string[] {
    return this.index.ids(where);
  }

  matches(id: string, where: Condition): boolean {
    return this.index.matches(id, where);
  }

  /** A message by id, or the newest one (matching the query) for "latest". */
  get(id: string, query?: string): IndexedMessage | undefined {
    if (id === 'latest') return this.page(query, 0, 1).messages[0];
    return this.index.get(id);
  }

  /** The full parse, for the message view and parts; a few are cached. An unparseable message reads as empty. */
  parsed(message: { readonly id: string; readonly size: number }): Promise<ParsedMail> {
    const id = message.id;
    let pending = this.parsedCache.get(id);
    if (!pending) {
      pending = parseMail(() => this.spool.readMessage(message)).catch(() => parseMail(() => ''));
      this.parsedCache.set(id, pending);
      if (this.parsedCache.size > PARSED_CACHE) {
        const oldest = this.parsedCache.keys().next().value;
        if (oldest !== undefined) this.parsedCache.delete(oldest);
      }
    }
    return pending;
  }

  tags(): string[] {
    return this.index.tags();
  }

  /** Each tag in use and how many messages have it. */
  tagCounts(): Record<string, number> {
    return this.index.tagCounts();
  }

  /** Mailpit's PUT /api/v1/tags: these messages get exactly these tags. */
  setTags(ids: readonly string[], tags: readonly string[]): void {
    this.emitTags(this.index.setTags(ids, tags));
  }

  renameTag(from: string, to: string): void {
    // In one transaction: the writer thread may tag a new message between the two.
    const ids = this.db.transaction(() => {
      const tagged = this.index.idsTagged(from);
      this.index.renameTag(from, to);
      return tagged;
    });
    this.emitTags(ids);
  }

  deleteTag(tag: string): void {
    const ids = this.db.transaction(() => {
      const tagged = this.index.idsTagged(tag);
      this.index.deleteTag(tag);
      return tagged;
    });
    this.emitTags(ids);
  }

  /** Tells listeners the tags of these messages as they are now (Mailpit broadcasts an update). */
  private emitTags(ids: readonly string[]): void {
    const tagsOf = this.index.tagsOf(ids);
    const messages = ids.flatMap((id) => {
      const tags = tagsOf.get(id);
      return tags ? [{ id, tags }] : [];
    });
    if (messages.length > 0) this.emit({ type: 'tags', messages });
  }

  /** Rejects (never throws) if the write fails, e.g. SQLITE_BUSY after the wait. */
  setRead(ids: readonly string[] | undefined, read: boolean): Promise<void> {
    return promised(() => {
      const changed = this.index.setRead(ids, read);
      if (changed.length > 0) this.emit({ type: 'update', ids: changed, read });
    });
  }

  /**
   * Deletes as one set: one transaction takes the rows out (no reader sees them after it) and
   * records the ids in `deleting`; the files go after, in the background with bounded
   * concurrency (settled() waits for them). A crash before they are gone finishes the unlinks
   * at the next start from `deleting`, so a deleted message never comes back. One line is logged.
   */
  delete(ids: readonly string[] | undefined, reason: DeleteReason = 'api'): Promise<number> {
    return promised(() => this.deleteNow(ids, reason));
  }

  private deleteNow(ids: readonly string[] | undefined, reason: DeleteReason): number {
    const started = Date.now();
    const gone = this.index.remove(ids?.filter((id) => isQueueId(id)));
    for (const id of gone) this.parsedCache.delete(id);
    if (ids === undefined && reason === 'api') this.emit({ type: 'truncate' });
    else if (gone.length > 0) this.emit({ type: 'delete', ids: gone, reason });
    if (gone.length > 0) {
      this.texts.note(gone.length);
      this.unlinkLater(gone);
      this.log.info(
        { deleted: gone.length, reason, ms: Date.now() - started },
        reason === 'retention'
          ? 'retention pruned captured messages'
          : reason === 'damaged'
            ? 'removed captured messages found damaged in the spool'
            : 'deleted captured messages',
      );
    }
    return gone.length;
  }

  private unlinkLater(ids: readonly string[]): void {
    this.unlinking = this.unlinking
      .then(() => this.unlink(ids))
      .catch((error: unknown) => {
        // The ids stay in `deleting`: the next start finishes them.
        this.log.error({ err: String(error) }, 'could not remove deleted messages from the spool');
      });
  }

  /** Unlinks in slices, each recorded as done, and stops early when the sink closes. */
  private async unlink(ids: readonly string[]): Promise<void> {
    const unlinks = new Limiter(UNLINKS_AT_ONCE);
    for (let at = 0; at < ids.length && !this.closing; at += UNLINKS_PER_SLICE) {
      const slice = ids.slice(at, at + UNLINKS_PER_SLICE);
      await Promise.all(slice.map((id) => unlinks.run(() => this.spool.remove(id))));
      this.index.finishDeleting(slice);
    }
  }

  private schedulePrune(): void {
    if (this.pruneQueued) return;
    this.pruneQueued = true;
    this.afterReply(async () => {
      this.pruneQueued = false;
      await this.prune();
    });
  }

  /** Retention: oldest first, until within the count, age and size caps. */
  private async prune(): Promise<void> {
    const { maxMessages, maxAgeHours, maxTotalMiB } = this.retention;
    if (maxMessages === 0 && maxAgeHours === 0 && maxTotalMiB === 0) return;
    const cutoff = maxAgeHours > 0 ? Date.now() - maxAgeHours * 3600 * 1000 : -Infinity;
    const maxBytes = maxTotalMiB > 0 ? maxTotalMiB * 1024 * 1024 : Infinity;
    const maxCount = maxMessages > 0 ? maxMessages : Infinity;
    // The counts and the rows walked from one moment of the index (the writer thread adds rows).
    const victims = this.db.snapshot(() => {
      const { count, bytes } = this.index.totals();
      const oldest = maxAgeHours > 0 ? this.index.oldestCreated() : null;
      const chosen: string[] = [];
      if (count <= maxCount && bytes <= maxBytes && (oldest === null || oldest >= cutoff)) return chosen;
      let left = count;
      let total = bytes;
      for (const message of this.index.oldest()) {
        if (left <= maxCount && total <= maxBytes && message.created >= cutoff) break;
        chosen.push(message.id);
        left--;
        total -= message.size;
      }
      return chosen;
    });
    if (victims.length > 0) await this.delete(victims, 'retention');
  }
}

/** The config's intake tagging; a match the search parser refuses names its field. */
function compileTagging(
  config: Pick<Config['sink'], 'tagRules' | 'tagUsername' | 'plusAddressTags'>,
): IntakeTagging {
  try {
    return intakeTagging(config);
  } catch (error) {
    // Compiled a second time only to name the rule that failed.
    const problem = tagRuleProblems(config)[0];
    if (!problem) throw error;
    throw new ConfigError(`${formatPath(problem.path)}: ${problem.message}`);
  }
}

async function removeIndexFiles(spool: Spool): Promise<void> {
  for (const suffix of ['', '-wal', '-shm']) {
    await rm(join(spool.dir, `${INDEX_FILE}${suffix}`), { force: true });
  }
  await removeTextFile(join(spool.dir, INDEX_FILE));
}

interface Connections {
  readonly db: IndexDatabase;
  readonly reads: IndexDatabase;
}

/** Opens the index, rebuilding it empty when it is corrupt or from a newer mailwharf. */
async function openIndex(spool: Spool, log: Logger): Promise<Connections> {
  // The summaries cache of earlier versions (one JSON file per message), replaced by the index.
  await rm(join(spool.dir, 'sink'), { recursive: true, force: true });
  const path = join(spool.dir, INDEX_FILE);
  try {
    return await openPair(path);
  } catch (error) {
    if (!(error instanceof CorruptIndexError) && !(error instanceof NewerIndexError)) throw error;
    log.warn({ err: error.message, path }, 'sink index unusable; rebuilding it from the spool');
    await removeIndexFiles(spool);
    return openPair(path);
  }
}

/**
 * The rows file brought up to date with its text file, a connection for writes, and one for
 * reads that search (the text file attached: a write transaction there would lock both files).
 */
async function openPair(path: string): Promise<Connections> {
  const db = openDatabase(path);
  try {
    migrate(db);
    await pairTextFile(db, path);
    const reads = openDatabase(path);
    try {
      attachText(reads, path);
    } catch (error) {
      reads.close();
      throw error;
    }
    return { db, reads };
  } catch (error) {
    db.close();
    throw error;
  }
}
