import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { enqueueLocal } from '../../src/delivery/enqueue.js';
import type { Envelope } from '../../src/spool/envelope.js';
import type { Spool } from '../../src/spool/spool.js';

/**
 * The config a DeliveryWorker test runs with: relay mode, its spool at `spoolDir`, every
 * message to a smarthost on 127.0.0.1 (port 9, discard, unless a test runs a receiver), and a
 * poll every 50 ms so that due messages are picked up at once.
 */
export function workerConfig(
  spoolDir: string,
  delivery: {
    readonly port?: number;
    readonly retry?: { firstRetrySeconds: number; maxRetrySeconds: number; giveUpAfterSeconds: number };
  } = {},
): Config {
  return validateConfig(
    {
      hostname: 'relay.test',
      mode: 'relay',
      spool: { dir: spoolDir },
      delivery: {
        route: { type: 'smarthost', host: '127.0.0.1', port: delivery.port ?? 9, tls: 'none' },
        ...(delivery.retry ? { retry: delivery.retry } : {}),
        pollSeconds: 0.05,
      },
      policies: { relay: { auth: 'none', relay: { trustedNetworks: ['127.0.0.0/8'] } } },
      listeners: [{ name: 'smtp', role: 'relay', port: 0, host: '127.0.0.1', tls: 'none', policy: 'relay' }],
    },
    'worker test',
  );
}

/** Queues a message as a local submission would (relay.test's own, from sender@a.test unless said). */
export function queueMessage(
  spool: Spool,
  message: string | Buffer,
  rcptTo: readonly string[],
  mailFrom = 'sender@a.test',
): Promise<Envelope> {
  return enqueueLocal(spool, message, { mailFrom, rcptTo, hostname: 'relay.test', listener: 'test' });
}
