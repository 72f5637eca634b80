/** Queues a DSN (RFC 3464) for a notice of the state's outbox, from the null sender. */
import type { Config } from '../config/schema.js';
import type { Envelope } from '../spool/envelope.js';
import type { Spool } from '../spool/spool.js';
import { buildDsn } from './dsn.js';
import { enqueueLocal } from './enqueue.js';
import type { DeliveryState, Notice } from './state.js';

/** RET=FULL returns the whole message up to this size; headers only above it. */
const FULL_RETURN_LIMIT = 256 * 1024;

export async function queueNotice(
  spool: Spool,
  config: Config,
  envelope: Envelope,
  state: DeliveryState,
  notice: Notice,
  now: Date,
): Promise<void> {
  const wanted = new Set(notice.recipients);
  const recipients = state.recipients.filter((r) => wanted.has(r.address));
  if (recipients.length === 0 || envelope.mailFrom === '') return;
  const text = (await spool.readBytes(envelope, FULL_RETURN_LIMIT)).toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const message = buildDsn({
    kind: notice.kind,
    envelope,
    recipients,
    hostname: config.hostname,
    originalHeaders: end >= 0 ? text.slice(0, end) : text,
    originalMessage: envelope.dsn?.ret === 'FULL' && envelope.size <= FULL_RETURN_LIMIT ? text : undefined,
    now,
    retryUntil: new Date(Date.parse(envelope.receivedAt) + config.delivery.retry.giveUpAfterSeconds * 1000),
  });
  await enqueueLocal(spool, message, {
    mailFrom: '',
    rcptTo: [envelope.mailFrom],
    hostname: config.hostname,
    listener: 'bounce',
  });
}
