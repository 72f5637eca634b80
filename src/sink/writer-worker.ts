/**
 * An index thread's side (see writer-thread.ts): its own connection, its one job (intake's
 * rows, or the text mover's rounds), and one request at a time, answered in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './database.js';
import { MessageIndex } from './message-index.js';
import { RowWriter } from './row-writer.js';
import { intakeTagging } from './tag-rules.js';
import { openTextMover } from './text-mover.js';
import type { WriterReply, WriterRequest, WriterSetup } from './writer-protocol.js';

const port = parentPort;
if (!port) throw new Error('writer-worker.ts runs as a worker thread');
const setup = workerData as WriterSetup;
// Waiting for the other connections' writes blocks nothing here, and giving up would leave a
// message acknowledged but not listed: wait as long as the longest write could take, and more.
const BUSY_WAIT_MS = 60_000;
const answer = setup.role === 'rows' ? rowsJob() : textJob();

port.postMessage({ ready: true } satisfies WriterReply);
port.on('message', (request: WriterRequest) => {
  port.postMessage(answerOrError(request));
  if (request.op === 'close') port.close();
});

function answerOrError(request: WriterRequest): WriterReply {
  try {
    return answer(request);
  } catch (error) {
    return { id: request.id, error: String(error) };
  }
}

function rowsJob(): (request: WriterRequest) => WriterReply {
  const db = openDatabase(setup.path, { busyWaitMs: BUSY_WAIT_MS });
  const rows = new RowWriter(db, new MessageIndex(db), intakeTagging(setup.tagging));
  return (request) => {
    switch (request.op) {
      case 'insert':
        return { id: request.id, outcomes: rows.insert(request.summaries) };
      case 'complete':
        return { id: request.id, completed: rows.complete(request.summary) };
      case 'close':
        db.close();
        return { id: request.id, closed: true };
      case 'move':
        return { id: request.id, error: 'the rows thread does not move text' };
    }
  };
}

function textJob(): (request: WriterRequest) => WriterReply {
  const mover = openTextMover(setup.path, BUSY_WAIT_MS);
  return (request) => {
    switch (request.op) {
      case 'move':
        return { id: request.id, moved: mover.move() };
      case 'close':
        mover.close();
        return { id: request.id, closed: true };
      case 'insert':
      case 'complete':
        return { id: request.id, error: 'the text thread does not write rows' };
    }
  };
}
