import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { OutboundConnection } from '../../src/delivery/transport.js';
import { Journal, segmentName } from '../../src/spool/journal.js';
import { newQueueId } from '../../src/spool/queue-id.js';
import { flipByteOf } from '../helpers/flip-byte.js';

/**
 * A journal record found damaged only at its end (a record larger than one read: its CRC is
 * known after the last byte) fails the stream the SMTP client is sending. The client must not
 * complete the DATA: a real smtp-server receiver never sees the final dot, and the recipient
 * is deferred, not delivered.
 */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Receiving {
  bytes: number;
  completed: number;
  closed: boolean;
}

async function startReceiver(): Promise<{ port: number; state: Receiving; closedOnce: Promise<void> }> {
  const state: Receiving = { bytes: 0, completed: 0, closed: false };
  let onClosed = (): void => undefined;
  const closedOnce = new Promise<void>((resolve) => {
    onClosed = resolve;
  });
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    onData(stream, _session, callback) {
      stream.on('data', (chunk: Buffer) => {
        state.bytes += chunk.length;
      });
      // smtp-server ends the data stream only at the final dot.
      stream.on('end', () => {
        state.completed += 1;
        callback();
      });
    },
    onClose() {
      state.closed = true;
      onClosed();
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, state, closedOnce };
}

describe('a damaged journal record streamed to a receiver', () => {
  it('is cut before the final dot: the receiver completes nothing and the recipient is deferred', async () => {
    const root = await mkdtemp(join(tmpdir(), 'mailwharf-damaged-stream-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const { journal } = await Journal.open(join(root, 'journal'), {
      writer: true,
      quarantineDir: join(root, 'quarantine'),
    });
    cleanups.push(() => journal.close());
    const id = newQueueId(Date.UTC(2026, 0, 1));
    const message = Buffer.from(`Subject: big\r\n\r\n${'y'.repeat(78)}\r\n`.repeat(3000), 'latin1');
    await journal.append(id, [message, Buffer.from('\r\nTRAILER-END\r\n', 'latin1')]);
    const location = journal.location(id);
    if (!location) throw new Error('not appended');
    // Damage after every message byte: only the CRC over the whole record can tell.
    await flipByteOf(join(root, 'journal', segmentName(1)), 'TRAILER-END');

    const receiver = await startReceiver();
    const connection = await OutboundConnection.connect(
      { host: '127.0.0.1', port: receiver.port, tls: 'none', verifyCertificate: false },
      { name: 'relay.test', connectTimeoutMs: 10_000 },
    );
    cleanups.push(() => {
      connection.close();
      return Promise.resolve();
    });
    const results = await connection.send(
      {
        from: 'sender@a.test',
        to: [{ address: 'rcpt@b.test' }],
        size: message.length,
        smtputf8: false,
        eightBit: false,
      },
      { open: () => Readable.from(journal.stream(location, message.length), { objectMode: false }) },
    );
    expect(results).toHaveLength(1);
    expect(results[0]?.outcome.permanent).toBe(false);
    expect(results[0]?.outcome.enhanced).toMatch(/^4\./);
    expect(connection.usable).toBe(false);
    connection.close();
    await receiver.closedOnce;
    // The end of the message never went out. (How much of its start reached the receiver before
    // the connection closed depends on socket flushing, so it is not asserted.)
    expect(receiver.state.bytes).toBeLessThan(message.length);
    expect(receiver.state.completed).toBe(0);
  }, 60_000);
});
