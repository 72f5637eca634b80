import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CorruptIndexError,
  openDatabase,
  type IndexDatabase,
  type Statement,
} from '../../../src/sink/database.js';
import { compileQuery, EVERYTHING } from '../../../src/sink/search.js';
import { pairTextFile, removeTextFile, textPathOf } from '../../../src/sink/text-file.js';
import { openTextMover, TextMover } from '../../../src/sink/text-mover.js';
import { openTestIndex, type TestIndex } from '../../helpers/sink-index.js';
import { testSummary } from '../../helpers/summary.js';

// The text mover (src/sink/text-mover.ts) fills the text file's full-text tables from the rows
// file's staged text, and takes deleted messages' text out, in rounds.
const dir = mkdtempSync(join(tmpdir(), 'mailwharf-text-mover-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function ids(from: number, count: number): string[] {
  return Array.from({ length: count }, (_, n) => `M${String(from + n).padStart(9, '0')}`);
}

function count(db: IndexDatabase, sql: string): number {
  return db.statement<{ n: number }>(`SELECT count(*) AS n FROM ${sql}`).get()?.n ?? -1;
}

function found(index: TestIndex, query: string): string[] {
  return index.index.page(compileQuery(query), 0, 100).messages.map((m) => m.id);
}

function moveAll(path: string): void {
  const mover = openTextMover(path);
  try {
    mover.moveAll();
  } finally {
    mover.close();
  }
}

/** Can another connection take this file's write lock at once? */
function writable(path: string): boolean {
  const other = openDatabase(path, { busyWaitMs: 0 });
  try {
    other.exec('BEGIN IMMEDIATE');
    other.exec('ROLLBACK');
    return true;
  } catch {
    return false;
  } finally {
    other.close();
  }
}

describe('the text mover', () => {
  it('holds one file at a time: the rows file while it plans, the text file while it fills', async () => {
    const path = join(dir, 'locks.sqlite');
    const test = await openTestIndex(path);
    test.index.insertAll(ids(0, 20).map((id) => testSummary(id)));
    test.index.remove(ids(0, 2));
    const seen: Record<string, boolean> = {};
    const db = openDatabase(textPathOf(path));
    db.statement('ATTACH DATABASE ? AS rows').run(path);
    // The mover's connection, watched: after the statements that take each step's lock.
    const watched: IndexDatabase = {
      ...db,
      statement: <Row>(sql: string): Statement<Row> => {
        const statement = db.statement<Row>(sql);
        if (sql.startsWith('DELETE FROM rows.text_staging')) {
          seen.planLocksText = !writable(textPathOf(path));
          seen.planLocksRows = !writable(path);
        }
        if (sql.startsWith('INSERT OR REPLACE INTO search_text')) {
          seen.fillLocksRows = !writable(path);
          seen.fillLocksText = !writable(textPathOf(path));
        }
        return statement;
      },
    };
    const mover = new TextMover(watched);
    expect(mover.move()).toEqual({ moved: 18, gone: 2, more: false });
    expect(seen).toEqual({
      planLocksRows: true,
      planLocksText: false,
      fillLocksRows: false,
      fillLocksText: true,
    });
    db.close();
    test.close();
  });

  it('finds every message before, during and after its text moves; deleted ones leave the text file', async () => {
    const path = join(dir, 'moves.sqlite');
    const test = await openTestIndex(path);
    test.index.insertAll(ids(0, 10).map((id) => testSummary(id)));
    expect(found(test, '"body of m000000003"')).toEqual(['M000000003']);
    moveAll(path);
    expect(count(test.reads, 'text.search_text')).toBe(10);
    expect(count(test.db, 'text_staging')).toBe(0);
    // Half moved, half staged: both found.
    test.index.insertAll(ids(10, 5).map((id) => testSummary(id)));
    expect(found(test, 'body').length).toBe(15);
    expect(found(test, 'from:app@').length).toBe(15);
    // Deleted: gone from every answer at once, from the text file at the next round.
    test.index.remove(['M000000003', 'M000000012']);
    expect(found(test, '"body of m000000003"')).toEqual([]);
    expect(found(test, '"body of m000000012"')).toEqual([]);
    expect(count(test.db, 'text_gone')).toBe(2);
    moveAll(path);
    expect(count(test.reads, 'text.search_text')).toBe(13);
    expect(count(test.reads, 'text.header_text')).toBe(13);
    expect(count(test.db, 'text_gone')).toBe(0);
    expect(found(test, 'body').length).toBe(13);
    test.close();
  });

  it("a completed message's text replaces its header block's", async () => {
    const path = join(dir, 'complete.sqlite');
    const test = await openTestIndex(path);
    test.index.insertAll([testSummary('M000000001', { complete: false, searchText: 'header block only' })]);
    moveAll(path);
    expect(found(test, '"header block"')).toEqual(['M000000001']);
    test.index.complete(testSummary('M000000001', { searchText: 'the whole parse' }));
    // Found by its new text at once (staged); the old text goes with the next round.
    expect(found(test, '"whole parse"')).toEqual(['M000000001']);
    moveAll(path);
    expect(found(test, '"whole parse"')).toEqual(['M000000001']);
    expect(found(test, '"header block"')).toEqual([]);
    expect(count(test.reads, 'text.search_text')).toBe(1);
    test.close();
  });

  it('a delete of every message empties the text file at the next round; later mail is kept', async () => {
    const path = join(dir, 'clear.sqlite');
    const test = await openTestIndex(path);
    test.index.insertAll(ids(0, 30).map((id) => testSummary(id)));
    moveAll(path);
    expect(count(test.reads, 'text.search_text')).toBe(30);
    test.index.remove(undefined);
    // Rows staged after the delete, before the round that drops the tables.
    test.index.insertAll(ids(30, 4).map((id) => testSummary(id)));
    expect(found(test, 'body')).toEqual(ids(30, 4).reverse());
    moveAll(path);
    expect(count(test.reads, 'text.search_text')).toBe(4);
    expect(found(test, 'body')).toEqual(ids(30, 4).reverse());
    expect(test.index.ids(EVERYTHING)).toEqual(ids(30, 4));
    test.close();
  });
});

describe('the pair of files', () => {
  async function movedIndex(name: string): Promise<string> {
    const path = join(dir, name);
    const test = await openTestIndex(path);
    test.index.insertAll(ids(0, 5).map((id) => testSummary(id)));
    moveAll(path);
    test.close();
    return path;
  }

  async function reopen(path: string): Promise<void> {
    const db = openDatabase(path);
    try {
      await pairTextFile(db, path);
    } finally {
      db.close();
    }
  }

  it('opens again as it was left', async () => {
    const path = await movedIndex('again.sqlite');
    await expect(reopen(path)).resolves.toBeUndefined();
  });

  it('a missing text file makes the index unusable (it is rebuilt from the spool)', async () => {
    const path = await movedIndex('missing.sqlite');
    await removeTextFile(path);
    await expect(reopen(path)).rejects.toThrow(CorruptIndexError);
  });

  it("another index's text file is not taken for this one's", async () => {
    const path = await movedIndex('mine.sqlite');
    const other = await movedIndex('other.sqlite');
    await removeTextFile(path);
    const text = openDatabase(textPathOf(other));
    text.exec(`VACUUM INTO '${textPathOf(path)}'`);
    text.close();
    await expect(reopen(path)).rejects.toThrow(/not the pair/);
  });

  it('a rows file that lost commits its text file built on is found out (a power cut)', async () => {
    const path = await movedIndex('behind.sqlite');
    const rows = openDatabase(path);
    rows.exec("UPDATE sqlite_sequence SET seq = 3 WHERE name = 'text_staging'");
    rows.close();
    await expect(reopen(path)).rejects.toThrow(/lost staged text/);
    const cleared = await movedIndex('cleared.sqlite');
    const text = openDatabase(textPathOf(cleared));
    text.exec('UPDATE moved SET clears = 1');
    text.close();
    await expect(reopen(cleared)).rejects.toThrow(/lost a delete of every message/);
  });
});
