import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type IndexDatabase } from '../../../src/sink/database.js';
import { MessageIndex } from '../../../src/sink/message-index.js';
import { migrate } from '../../../src/sink/migrations.js';
import { RowWriter } from '../../../src/sink/row-writer.js';
import { compileQuery as compile, EVERYTHING } from '../../../src/sink/search.js';
import { intakeTagging } from '../../../src/sink/tag-rules.js';
import { openTextMover, type TextMover } from '../../../src/sink/text-mover.js';
import { inlineWrites, WriterThread, type IndexWrites } from '../../../src/sink/writer-thread.js';
import { openTestIndex, type TestIndex } from '../../helpers/sink-index.js';
import { testSummary } from '../../helpers/summary.js';

const dir = mkdtempSync(join(tmpdir(), 'mailwharf-writer-thread-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const TAGGING = {
  tagRules: [{ match: 'subject:urgent', tags: ['Urgent'] }],
  tagUsername: false,
  plusAddressTags: true,
};
const silent = pino({ level: 'silent' });
/** A writer thread that commits the first group it is asked to write, then dies without answering. */
const DYING = new URL('../../helpers/dying-writer-worker.mjs', import.meta.url);

/** Writes on this thread that must not be made (the thread is up and does them). */
const NOT_HERE: IndexWrites = {
  insert: () => Promise.reject(new Error('written on the main thread')),
  complete: () => Promise.reject(new Error('written on the main thread')),
  move: () => Promise.reject(new Error('moved on the main thread')),
  ready: () => Promise.resolve(false),
  close: () => Promise.resolve(),
};

/** A thread that has opened the index, so that what follows is written there. */
async function runningThread(
  path: string,
  here: IndexWrites = NOT_HERE,
  script?: URL,
): Promise<WriterThread> {
  const thread = new WriterThread({ path, role: 'rows', tagging: TAGGING }, silent, here, script);
  expect(await thread.ready()).toBe(true);
  return thread;
}

/** Writes on this thread with its connection, counted. */
function hereWrites(db: IndexDatabase): { writes: IndexWrites; made: () => number } {
  const rows = new RowWriter(db, new MessageIndex(db), intakeTagging(TAGGING));
  const inline = inlineWrites(rows, () => {
    throw new Error('no text moves in these tests');
  });
  let made = 0;
  return {
    writes: {
      insert: (summaries) => {
        made++;
        return inline.insert(summaries);
      },
      complete: (summary) => {
        made++;
        return inline.complete(summary);
      },
      move: () => inline.move(),
      ready: () => inline.ready(),
      close: () => inline.close(),
    },
    made: () => made,
  };
}

function freshIndex(name: string): Promise<TestIndex> {
  return openTestIndex(join(dir, name));
}

/** Counts as the rows themselves give them (what the kept counts must equal). */
function counted(db: IndexDatabase): { total: number; unread: number; bytes: number } {
  const row = db
    .statement<{ total: number; unread: number; bytes: number }>(
      'SELECT count(*) AS total, count(*) FILTER (WHERE read = 0) AS unread, coalesce(sum(size), 0) AS bytes FROM messages',
    )
    .get();
  return row ?? { total: 0, unread: 0, bytes: 0 };
}

function kept(index: MessageIndex): { total: number; unread: number; bytes: number } {
  return { ...index.stats(), bytes: index.totals().bytes };
}

function ids(from: number, count: number): string[] {
  return Array.from({ length: count }, (_, n) => `M${String(from + n).padStart(9, '0')}`);
}

describe('the writer thread', () => {
  it('answers once its rows are committed: the main thread reads them at once, tagged', async () => {
    const { path, db, reads, index, close } = await freshIndex('visible.sqlite');
    const thread = await runningThread(path);
    for (const group of [ids(0, 40), ids(40, 1), ids(41, 200)]) {
      const outcomes = await thread.insert(
        group.map((id, n) =>
          testSummary(id, {
            subject: n % 2 === 0 ? 'urgent: look' : 'fine',
            to: [{ Name: '', Address: 'dev+run7@example.org' }],
          }),
        ),
      );
      // Read on this thread's own connection, straight after the answer.
      for (const [n, id] of group.entries()) {
        expect(index.get(id)?.subject).toBe(n % 2 === 0 ? 'urgent: look' : 'fine');
        expect(outcomes[n]).toEqual({ kind: 'inserted', tags: n % 2 === 0 ? ['run7', 'Urgent'] : ['run7'] });
        expect(index.get(id)?.tags).toEqual(n % 2 === 0 ? ['run7', 'Urgent'] : ['run7']);
      }
    }
    // An id indexed already is present, not written again.
    expect(await thread.insert([testSummary('M000000000')])).toEqual([{ kind: 'present' }]);
    expect(kept(index)).toEqual(counted(db));
    expect(index.stats().total).toBe(241);
    // Staged text is searched where it is, and found as well once moved to the text file.
    expect(index.page(compile('"body of M000000007"'), 0, 10).messages.map((m) => m.id)).toEqual([
      'M000000007',
    ]);
    await thread.close();
    const mover = openTextMover(path);
    mover.moveAll();
    mover.close();
    expect(db.statement<{ n: number }>('SELECT count(*) AS n FROM text_staging').get()?.n).toBe(0);
    expect(reads.statement<{ n: number }>('SELECT count(*) AS n FROM text.search_text').get()?.n).toBe(241);
    expect(index.page(compile('"body of M000000007"'), 0, 10).messages.map((m) => m.id)).toEqual([
      'M000000007',
    ]);
    close();
  });

  it('keeps the counts exact while the main thread deletes and marks read between its groups', async () => {
    const { path, db, index, close } = await freshIndex('counts.sqlite');
    const thread = await runningThread(path);
    // In turn: each main-thread write on rows the thread has written (and answered).
    for (let group = 0; group < 10; group++) {
      await thread.insert(ids(group * 20, 20).map((id) => testSummary(id, { size: 100 + group })));
      expect(index.setRead(ids(group * 20, 15), true)).toHaveLength(15);
      expect(index.remove(ids(group * 20 + 10, 7))).toHaveLength(7);
      expect(kept(index)).toEqual(counted(db));
    }
    expect(kept(index)).toEqual({ total: 130, unread: 30, bytes: 130 * 100 + 13 * 45 });
    // At once: the thread's groups in flight while the main thread writes, delete-all among them.
    const writes: Promise<unknown>[] = [];
    for (let group = 10; group < 40; group++) {
      writes.push(thread.insert(ids(group * 20, 20).map((id) => testSummary(id, { size: 100 + group }))));
      if (group % 3 === 1) index.setRead(undefined, true);
      if (group % 5 === 2) index.remove(index.ids(EVERYTHING).slice(0, 7));
      if (group === 30) index.remove(undefined);
    }
    await Promise.all(writes);
    expect(kept(index)).toEqual(counted(db));
    expect(index.page(EVERYTHING, 0, 1).count).toBe(counted(db).total);
    await thread.close();
    close();
  });

  it('writes here until it has started, and there from then on', async () => {
    const { path, db, index, close } = await freshIndex('starting.sqlite');
    const here = hereWrites(db);
    const thread = new WriterThread({ path, role: 'rows', tagging: TAGGING }, silent, here.writes);
    // Asked at once, before the thread can have opened the index: made on this thread.
    expect(await thread.insert(ids(0, 5).map((id) => testSummary(id)))).toHaveLength(5);
    expect(here.made()).toBe(1);
    expect(await thread.ready()).toBe(true);
    expect(await thread.insert(ids(5, 5).map((id) => testSummary(id)))).toHaveLength(5);
    expect(here.made()).toBe(1);
    expect(index.all(EVERYTHING).map((m) => m.id)).toEqual(ids(0, 10));
    await thread.close();
    close();
  });

  it('if it dies having committed a group, the group is made again here, where its rows are found', async () => {
    const { path, db, index, close } = await freshIndex('fallback.sqlite');
    const here = hereWrites(db);
    const thread = await runningThread(path, here.writes, DYING);
    const group = ids(0, 50).map((id) =>
      testSummary(id, { to: [{ Name: '', Address: 'dev+run1@example.org' }] }),
    );
    // The thread commits the group and exits without answering.
    const outcomes = await thread.insert(group);
    expect(here.made()).toBe(1);
    expect(outcomes).toEqual(group.map(() => ({ kind: 'present' })));
    // Written once, by the thread, with its tags.
    expect(index.all(EVERYTHING).map((m) => [m.id, m.tags])).toEqual(group.map((m) => [m.id, ['run1']]));
    // Every later write is made here.
    expect(await thread.insert(ids(50, 5).map((id) => testSummary(id)))).toHaveLength(5);
    expect(here.made()).toBe(2);
    expect(kept(index)).toEqual(counted(db));
    expect(kept(index).total).toBe(55);
    await thread.close();
    close();
  });

  it('as the text thread, if it dies having made a round, the round is made again here and finds it done', async () => {
    const { path, db, index, close } = await freshIndex('text-fallback.sqlite');
    index.insertAll(ids(0, 30).map((id) => testSummary(id)));
    let mover: TextMover | undefined;
    const here = inlineWrites(new RowWriter(db, new MessageIndex(db), intakeTagging(TAGGING)), () => {
      mover ??= openTextMover(path);
      return mover;
    });
    const thread = new WriterThread({ path, role: 'text', tagging: TAGGING }, silent, here, DYING);
    expect(await thread.ready()).toBe(true);
    // The thread moves the 30 rows and exits without answering; the round made here finds
    // them moved, and forgets them.
    expect(await thread.move()).toEqual({ moved: 0, gone: 0, more: false });
    expect(await thread.move()).toEqual({ moved: 0, gone: 0, more: false });
    expect(db.statement<{ n: number }>('SELECT count(*) AS n FROM text_staging').get()?.n).toBe(0);
    expect(index.page(compile('"body of m000000029"'), 0, 10).messages.map((m) => m.id)).toEqual([
      'M000000029',
    ]);
    await thread.close();
    mover?.close();
    close();
  });

  it('a write that fails here rejects its promise, never throws', async () => {
    const { db, close } = await freshIndex('closed.sqlite');
    const writes = inlineWrites(new RowWriter(db, new MessageIndex(db), intakeTagging(TAGGING)), () => {
      throw new Error('no text moves in this test');
    });
    close();
    await expect(writes.insert([testSummary('M000000001')])).rejects.toThrow(/not open/);
  });

  it('refuses to start without its script, naming it', () => {
    expect(
      () =>
        new WriterThread(
          { path: join(dir, 'none.sqlite'), role: 'rows', tagging: TAGGING },
          silent,
          NOT_HERE,
          new URL('file:///nonexistent/writer-worker.js'),
        ),
    ).toThrow('/nonexistent/writer-worker.js is missing');
  });
});

/** A message row as schema 4 and 5 wrote it (read state as given). */
function oldRow(db: IndexDatabase, seq: number, size: number, read: boolean): void {
  db.statement(
    `INSERT INTO messages (seq, id, created, size, read, complete, subject, attachments, inline,
      sender_text, recipients_text, mailboxes) VALUES (?, ?, 0, ?, ?, 1, ?, 0, 0, '', '', '')`,
  ).run(seq, ids(seq, 1)[0] ?? '', size, read ? 1 : 0, `old ${String(seq)}`);
  db.statement(
    `INSERT INTO message_details (seq, message_id, date, snippet, from_json, to_json, cc_json, bcc_json,
      reply_to_json, attachments_json, envelope_json) VALUES (?, '', '', '', 'null', '[]', '[]', '[]', '[]', '[]', ?)`,
  ).run(seq, JSON.stringify({ mailFrom: '', rcptTo: [] }));
}

describe('the counts kept in the index file', () => {
  it('an index of schema 4 gets them counted by its migration', async () => {
    const path = join(dir, 'schema4.sqlite');
    const db = openDatabase(path);
    migrate(db, 4);
    for (let n = 0; n < 30; n++) oldRow(db, n + 1, 10 * n, n < 12);
    db.close();
    const again = await openTestIndex(path);
    expect(kept(again.index)).toEqual({ total: 30, unread: 18, bytes: 4350 });
    again.close();
  });
});

describe('the text file', () => {
  it('an index of schema 5 has its search text staged again, found meanwhile, and moved to the text file', async () => {
    const path = join(dir, 'schema5.sqlite');
    const db = openDatabase(path);
    migrate(db, 5);
    // Two rows whose text had moved into the one-file full-text tables, one still staged.
    for (const seq of [1, 2, 3]) oldRow(db, seq, 100, false);
    for (const seq of [1, 2]) {
      db.statement('INSERT INTO search_text (rowid, text) VALUES (?, ?)').run(
        seq,
        `moved body ${String(seq)}`,
      );
      db.statement(
        "INSERT INTO header_text (rowid, subject, from_text, to_text, cc_text, bcc_text, reply_to_text, message_id) VALUES (?, ?, 'ann <ann@example.com>', '', '', '', '', '')",
      ).run(seq, `old ${String(seq)}`);
    }
    db.statement("INSERT INTO search_staging (seq, text) VALUES (3, 'staged body 3')").run();
    db.statement(
      "INSERT INTO header_staging (seq, subject, from_text, to_text, cc_text, bcc_text, reply_to_text, message_id) VALUES (3, 'old 3', 'bob <bob@example.com>', '', '', '', '', '')",
    ).run();
    db.close();
    const migrated = await openTestIndex(path);
    const found = (query: string): string[] =>
      migrated.index.page(compile(query), 0, 10).messages.map((m) => m.id.slice(-1));
    const expected = {
      '"moved body 2"': ['2'],
      '"staged body"': ['3'],
      body: ['3', '2', '1'],
      'from:ann': ['2', '1'],
      'from:bob': ['3'],
      'subject:"old 1"': ['1'],
    };
    for (const [query, seqs] of Object.entries(expected)) expect(found(query), query).toEqual(seqs);
    expect(migrated.db.statement<{ n: number }>('SELECT count(*) AS n FROM text_staging').get()?.n).toBe(3);
    const mover = openTextMover(path);
    expect(mover.move()).toEqual({ moved: 3, gone: 0, more: false });
    // Moved rows are forgotten by the next round.
    expect(mover.move()).toEqual({ moved: 0, gone: 0, more: false });
    mover.close();
    expect(migrated.db.statement<{ n: number }>('SELECT count(*) AS n FROM text_staging').get()?.n).toBe(0);
    for (const [query, seqs] of Object.entries(expected)) expect(found(query), query).toEqual(seqs);
    migrated.close();
  });
});
