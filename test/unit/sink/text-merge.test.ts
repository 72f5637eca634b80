import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type IndexDatabase } from '../../../src/sink/database.js';
import { MessageIndex } from '../../../src/sink/message-index.js';
import { migrate } from '../../../src/sink/migrations.js';

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
  it('a new index merges segments 16 at a time', () => {
    const db = openDatabase(join(dir, 'new.sqlite'));
    migrate(db);
    expect(automerge(db)).toEqual({ search: 16, header: 16 });
    db.close();
  });

  it('an index of the schema before gets them from its migration', () => {
    const path = join(dir, 'older.sqlite');
    const old = openDatabase(path);
    migrate(old);
    // As schema 3 left them: FTS5's default.
    old.exec("INSERT INTO search_text (search_text, rank) VALUES ('automerge', 4)");
    old.exec("INSERT INTO header_text (header_text, rank) VALUES ('automerge', 4)");
    // Schema 5's table goes too, so that its step runs again.
    old.exec('DROP TABLE counts');
    old.setUserVersion(3);
    old.close();
    const db = openDatabase(path);
    expect(automerge(db)).toEqual({ search: 4, header: 4 });
    migrate(db);
    expect(automerge(db)).toEqual({ search: 16, header: 16 });
    db.close();
  });

  it('delete-all, which makes the full-text tables again, keeps them', () => {
    const db = openDatabase(join(dir, 'emptied.sqlite'));
    migrate(db);
    new MessageIndex(db).remove(undefined);
    expect(automerge(db)).toEqual({ search: 16, header: 16 });
    db.close();
  });
});
