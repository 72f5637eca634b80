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
import { inlineWrites, WriterThread, type IndexWrites } from '../../../src/sink/writer-thread.js';
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
  close: () => Promise.resolve(),
};

/** A thread that has opened the index, so that what follows is written there. */
async function runningThread(
  path: string,
  here: IndexWrites = NOT_HERE,
  script?: URL,
): Promise<WriterThread> {
  const thread = new WriterThread({ path, tagging: TAGGING }, silent, here, script);
  expect(await thread.ready()).toBe(true);
  return thread;
}

/** Writes on this thread with its connection, counted. */
function hereWrites(db: IndexDatabase, index: MessageIndex): { writes: IndexWrites; made: () => number } {
  const rows = new RowWriter(db, index, intakeTagging(TAGGING), (error) => {
    throw error;
  });
  const inline = inlineWrites(rows);
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
      close: () => inline.close(),
    },
    made: () => made,
  };
}

function freshIndex(name: string): { path: string; db: IndexDatabase; index: MessageIndex } {
  const path = join(dir, name);
  const db = openDatabase(path);
  migrate(db);
  return { path, db, index: new MessageIndex(db) };
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
    const { path, db, index } = freshIndex('visible.sqlite');
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
    // Staged text is searched where it is, and close moves it into the full-text tables.
    expect(index.page(compile('"body of M000000007"'), 0, 10).messages.map((m) => m.id)).toEqual([
      'M000000007',
    ]);
    await thread.close();
    expect(db.statement<{ n: number }>('SELECT count(*) AS n FROM search_staging').get()?.n).toBe(0);
    expect(db.statement<{ n: number }>('SELECT count(*) AS n FROM search_text').get()?.n).toBe(241);
    expect(index.page(compile('"body of M000000007"'), 0, 10).messages.map((m) => m.id)).toEqual([
      'M000000007',
    ]);
    db.close();
  });

  it('keeps the counts exact while the main thread deletes and marks read between its groups', async () => {
    const { path, db, index } = freshIndex('counts.sqlite');
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
    db.close();
  });

  it('writes here until it has started, and there from then on', async () => {
    const { path, db, index } = freshIndex('starting.sqlite');
    const here = hereWrites(db, index);
    const thread = new WriterThread({ path, tagging: TAGGING }, silent, here.writes);
    // Asked at once, before the thread can have opened the index: made on this thread.
    expect(await thread.insert(ids(0, 5).map((id) => testSummary(id)))).toHaveLength(5);
    expect(here.made()).toBe(1);
    expect(await thread.ready()).toBe(true);
    expect(await thread.insert(ids(5, 5).map((id) => testSummary(id)))).toHaveLength(5);
    expect(here.made()).toBe(1);
    expect(index.all(EVERYTHING).map((m) => m.id)).toEqual(ids(0, 10));
    await thread.close();
    db.close();
  });

  it('if it dies having committed a group, the group is made again here, where its rows are found', async () => {
    const { path, db, index } = freshIndex('fallback.sqlite');
    const here = hereWrites(db, index);
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
    db.close();
  });

  it('a write that fails here rejects its promise, never throws', async () => {
    const { db, index } = freshIndex('closed.sqlite');
    const writes = inlineWrites(new RowWriter(db, index, intakeTagging(TAGGING), () => undefined));
    db.close();
    await expect(writes.insert([testSummary('M000000001')])).rejects.toThrow(/not open/);
  });

  it('refuses to start without its script, naming it', () => {
    expect(
      () =>
        new WriterThread(
          { path: join(dir, 'none.sqlite'), tagging: TAGGING },
          silent,
          NOT_HERE,
          new URL('file:///nonexistent/writer-worker.js'),
        ),
    ).toThrow('/nonexistent/writer-worker.js is missing');
  });
});

describe('the counts kept in the index file', () => {
  it('an index of schema 4 gets them counted by its migration', () => {
    const { path, db, index } = freshIndex('schema4.sqlite');
    index.insertAll(ids(0, 30).map((id, n) => testSummary(id, { size: 10 * n })));
    index.setRead(ids(0, 12), true);
    db.exec('DROP TABLE counts');
    db.setUserVersion(4);
    db.close();
    const again = openDatabase(path);
    migrate(again);
    expect(kept(new MessageIndex(again))).toEqual({ total: 30, unread: 18, bytes: 4350 });
    again.close();
  });
});
