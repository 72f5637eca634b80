import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { READ_WHOLE_BYTES } from '../../src/delivery/message-bytes.js';
import { hasEightBit, toSevenBit } from '../../src/delivery/seven-bit.js';
import { DeliveryWorker } from '../../src/delivery/worker.js';
import { Spool } from '../../src/spool/spool.js';
import { eventually } from '../helpers/relay.js';
import { queueMessage, workerConfig } from '../helpers/worker-config.js';

/**
 * An unsigned 8-bit message too large to hold in memory, to a real smtp-server that does not
 * offer 8BITMIME and defers the first attempt: each attempt converts it as it streams from the
 * spool, and only the first reads it once more to plan the conversion (which parts have 8-bit
 * bodies); a retry reads it once.
 */
describe('relay of a streamed 8-bit message to a hop without 8BITMIME', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('reads the message once per retry, and sends the same 7-bit form each time', async () => {
    const root = await mkdtemp(join(tmpdir(), 'mailwharf-seven-bit-reads-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const { spool } = await Spool.open(join(root, 'spool'));
    cleanups.push(() => spool.close());
    const reads = vi.spyOn(spool, 'readMessage');

    /** Each DATA received: its bytes, and how many reads of the spool had begun by its end. */
    const received: { text: Buffer; readsSoFar: number }[] = [];
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      hide8BITMIME: true,
      logger: false,
      onData(stream, _session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          received.push({ text: Buffer.concat(chunks), readsSoFar: reads.mock.calls.length });
          const error = Object.assign(new Error('Greylisted, try again'), { responseCode: 451 });
          callback(received.length === 1 ? error : null);
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.server.address() as AddressInfo).port;

    const config = workerConfig(join(root, 'spool'), {
      port,
      retry: { firstRetrySeconds: 0.05, maxRetrySeconds: 0.05, giveUpAfterSeconds: 600 },
    });
    const worker = new DeliveryWorker({ spool, config, log: pino({ level: 'silent' }) });

    const line = 'Gr\u00fc\u00dfe aus K\u00f6ln, \u00e4\u00f6\u00fc\r\n';
    const message = Buffer.from(
      'Subject: large\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n' +
        `Content-Transfer-Encoding: 8bit\r\n\r\n${line.repeat(Math.ceil((READ_WHOLE_BYTES * 4) / line.length))}`,
      'utf8',
    );
    expect(message.length).toBeGreaterThan(READ_WHOLE_BYTES);
    await queueMessage(spool, message, ['bob@one.test']);
    await worker.start();
    cleanups.push(() => worker.stop(5000));
    await eventually(
      () => (received.length >= 2 ? true : undefined),
      'a deferred attempt and a retry',
      20_000,
    );

    const [first, second] = received;
    const seven = toSevenBit(message);
    expect(hasEightBit(seven)).toBe(false);
    // smtp-server gives DATA without its final CRLF . CRLF, dot-stuffing undone.
    for (const attempt of [first, second]) expect(attempt?.text.equals(seven)).toBe(true);
    // The first attempt: the 8-bit check, the plan, the conversion. The retry: the conversion alone.
    expect(first?.readsSoFar).toBe(3);
    expect((second?.readsSoFar ?? 0) - (first?.readsSoFar ?? 0)).toBe(1);
  });
});
