// A writer thread (see src/sink/writer-thread.ts) that commits the first group it is asked to
// write and then dies without answering: the fault that leaves rows written but unanswered.
// Plain JavaScript, since a worker thread cannot load TypeScript; it runs the build's modules.
import { parentPort, workerData } from 'node:worker_threads';

const sink = new URL('../../dist/src/sink/', import.meta.url);
const { openDatabase } = await import(new URL('database.js', sink).href);
const { MessageIndex } = await import(new URL('message-index.js', sink).href);
const { RowWriter } = await import(new URL('row-writer.js', sink).href);
const { intakeTagging } = await import(new URL('tag-rules.js', sink).href);

const db = openDatabase(workerData.path);
const index = new MessageIndex(db);
const rows = new RowWriter(db, index, intakeTagging(workerData.tagging), () => undefined);
parentPort.postMessage({ ready: true });
parentPort.on('message', (request) => {
  if (request.op === 'close') {
    // Asked to close before any write: it closes as the real one does.
    rows.moveStagedText();
    db.close();
    parentPort.postMessage({ id: request.id, closed: true });
    parentPort.close();
    return;
  }
  if (request.op === 'insert') rows.insert(request.summaries);
  // Told before dying, so that a test can see the group was committed here.
  parentPort.postMessage({ problem: 'dying writer committed its group', err: request.op });
  db.close();
  process.exit(3);
});
