// An index thread (see src/sink/writer-thread.ts) that makes the first write it is asked for
// and then dies without answering: the fault that leaves a write made but unanswered. As the
// rows thread it commits a group of new rows; as the text thread, a round of the text mover.
// Plain JavaScript, since a worker thread cannot load TypeScript; it runs the build's modules.
import { parentPort, workerData } from 'node:worker_threads';

const sink = new URL('../../dist/src/sink/', import.meta.url);
const { openDatabase } = await import(new URL('database.js', sink).href);
const { MessageIndex } = await import(new URL('message-index.js', sink).href);
const { RowWriter } = await import(new URL('row-writer.js', sink).href);
const { intakeTagging } = await import(new URL('tag-rules.js', sink).href);
const { openTextMover } = await import(new URL('text-mover.js', sink).href);

const rowsRole = workerData.role === 'rows';
const db = rowsRole ? openDatabase(workerData.path) : undefined;
const rows = db ? new RowWriter(db, new MessageIndex(db), intakeTagging(workerData.tagging)) : undefined;
const mover = rowsRole ? undefined : openTextMover(workerData.path);
const close = () => {
  db?.close();
  mover?.close();
};
parentPort.postMessage({ ready: true });
parentPort.on('message', (request) => {
  if (request.op === 'close') {
    // Asked to close before any write: it closes as the real one does.
    close();
    parentPort.postMessage({ id: request.id, closed: true });
    parentPort.close();
    return;
  }
  if (request.op === 'insert') rows.insert(request.summaries);
  if (request.op === 'move') mover.move();
  // Told before dying, so that a test can see the write was made here.
  parentPort.postMessage({ problem: `dying ${workerData.role} thread made its write`, err: request.op });
  close();
  process.exit(3);
});
