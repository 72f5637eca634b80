/**
 * The writer thread's side (see writer-thread.ts): its own connection to the index, the
 * row writer, and one request at a time, answered in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './database.js';
import { MessageIndex } from './message-index.js';
import { RowWriter } from './row-writer.js';
import { intakeTagging } from './tag-rules.js';
import type { WriterReply, WriterRequest, WriterSetup } from './writer-protocol.js';

const port = parentPort;
if (!port) throw new Error('writer-worker.ts runs as a worker thread');
const setup = workerData as WriterSetup;
// Waiting for the main thread's write blocks nothing here, and giving up would leave a message
// acknowledged but not listed: wait as long as the longest write could take, and more.
const db = openDatabase(setup.path, { busyWaitMs: 60_000 });
const index = new MessageIndex(db);
const rows = new RowWriter(db, index, intakeTagging(setup.tagging), (error) => {
  port.postMessage({
    problem: 'could not move staged search text',
    err: String(error),
  } satisfies WriterReply);
});

port.postMessage({ ready: true } satisfies WriterReply);
port.on('message', (request: WriterRequest) => {
  port.postMessage(answer(request));
  if (request.op === 'close') port.close();
});

function answer(request: WriterRequest): WriterReply {
  try {
    switch (request.op) {
      case 'insert':
        return { id: request.id, outcomes: rows.insert(request.summaries) };
      case 'complete':
        return { id: request.id, completed: rows.complete(request.summary) };
      case 'close':
        rows.moveStagedText();
        db.close();
        return { id: request.id, closed: true };
    }
  } catch (error) {
    return { id: request.id, error: String(error) };
  }
}
