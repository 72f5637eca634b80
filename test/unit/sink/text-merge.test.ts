import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type IndexDatabase } from '../../../src/sink/database.js';
import { migrate } from '../../../src/sink/migrations.js';
import { openTextMover } from '../../../src/sink/text-mover.js';
import { openTestIndex } from '../../helpers/sink-index.js';
import { testSummary } from '../../helpers/summary.js';

// Merging full-text segments at FTS5's default of 4 was half the cost of moving staged text
// in at 100,000 rows (see TEXT_MERGE_SETTINGS): each way the tables come to be keeps 16.
const dir = mkdtempSync(join(tmpdir(), 'mailwharf-text-merge-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function automerge(db: IndexDatabase): { search: unknown; header: unknown } {
  const of = (table: string) =>
    db.statement<{ v: unknown }>(`SELECT v FROM ${table}_config WHERE k = 'automerge'`).get()?.v;
  return { search: of('search_text'), header: of('header_text') };
}

describe('full-text merge settings', () => {
  it('a new index merges segments 16 at a time', async () => {
    const { reads, close } = await openTestIndex(join(dir, 'new.sqlite'));
    expect(automerge(reads)).toEqual({ search: 16, header: 16 });
    close();
  });

  it('an index of schema 3 gets them from step 4', () => {
    const db = openDatabase(join(dir, 'older.sqlite'));
    migrate(db, 3);
    // No row: FTS5's default (4).
    expect(automerge(db)).toEqual({ search: undefined, header: undefined });
    migrate(db, 4);
    expect(automerge(db)).toEqual({ search: 16, header: 16 });
    db.close();
  });

  it('delete-all, after which the text mover makes the full-text tables again, keeps them', async () => {
    const path = join(dir, 'emptied.sqlite');
    const { reads, index, close } = await openTestIndex(path);
    const moveAll = (): void => {
      const mover = openTextMover(path);
      mover.moveAll();
      mover.close();
    };
    const rows = (): number | undefined =>
      reads.statement<{ n: number }>('SELECT count(*) AS n FROM text.search_text').get()?.n;
    index.insertAll([testSummary('M000000001')]);
    moveAll();
    expect(rows()).toBe(1);
    index.remove(undefined);
    moveAll();
    expect(rows()).toBe(0);
    expect(automerge(reads)).toEqual({ search: 16, header: 16 });
    close();
  });
});
