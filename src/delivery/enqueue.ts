import type { Envelope } from '../spool/envelope.js';
import { newQueueId } from '../spool/queue-id.js';
import type { Spool } from '../spool/spool.js';

/** Puts a message we generate (a DSN, a release from the sink) into the queue, durably. */
export async function enqueueLocal(
  spool: Spool,
  message: string | Buffer,
  envelope: {
    mailFrom: string;
    rcptTo: readonly string[];
    hostname: string;
    listener: string;
    state?: Envelope['state'];
  },
): Promise<Envelope> {
  const id = newQueueId();
  const writer = await spool.begin(id);
  const bytes = Buffer.from(message);
  writer.stream.write(bytes);
  const committed: Envelope = {
    version: 1,
    id,
    receivedAt: new Date().toISOString(),
    size: bytes.length,
    mailFrom: envelope.mailFrom,
    rcptTo: envelope.rcptTo.map((address) => ({ address })),
    smtputf8: false,
    client: { address: '127.0.0.1', port: 0, helo: envelope.hostname },
    listener: { name: envelope.listener, role: 'internal', port: 0 },
    state: envelope.state ?? 'queued',
  };
  try {
    await writer.commit(committed);
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return committed;
}
