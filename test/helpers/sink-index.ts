// A sink index as the sink opens it (see src/sink/sink.ts, openPair), for unit tests: the rows
// file brought up to date and paired with its text file, a connection for writes and one for
// reads that search.
import { openDatabase, type IndexDatabase } from '../../src/sink/database.js';
import { MessageIndex } from '../../src/sink/message-index.js';
import { migrate } from '../../src/sink/migrations.js';
import { attachText, pairTextFile } from '../../src/sink/text-file.js';

export interface TestIndex {
  readonly path: string;
  readonly db: IndexDatabase;
  readonly reads: IndexDatabase;
  readonly index: MessageIndex;
  readonly close: () => void;
}

export async function openTestIndex(path: string): Promise<TestIndex> {
  const db = openDatabase(path);
  migrate(db);
  await pairTextFile(db, path);
  const reads = openDatabase(path);
  attachText(reads, path);
  return {
    path,
    db,
    reads,
    index: new MessageIndex(db, reads),
    close: () => {
      reads.close();
      db.close();
    },
  };
}
