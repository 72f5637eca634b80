import type { Metrics } from '../metrics.js';
import type { Sink } from '../sink/sink.js';
import type { Envelope } from '../spool/envelope.js';
import type { Spool } from '../spool/spool.js';

/** Mailpit's info.RuntimeStats counters, kept per server since it started. */
export interface RuntimeCounters {
  readonly smtpAccepted: number;
  readonly smtpAcceptedSize: number;
  readonly messagesDeleted: number;
  readonly smtpRejected: number;
}

/**
 * Counts from the events the spool and sink already send: a committed message that came over
 * SMTP (not POST /send, which Mailpit does not count either) and every message deleted.
 * Rejections are the SMTP layer's own count (kept in its metrics).
 */
export function countRuntime(spool: Spool, sink: Sink, metrics: Metrics): () => RuntimeCounters {
  let smtpAccepted = 0;
  let smtpAcceptedSize = 0;
  let messagesDeleted = 0;
  // A truncate event carries no count: the sink's size is followed to know it.
  let held = sink.stats().total;
  spool.onCommitted((envelope: Envelope) => {
    if (envelope.listener.name === 'api') return;
    smtpAccepted += 1;
    smtpAcceptedSize += envelope.size;
  });
  sink.on((event) => {
    if (event.type === 'new') held += 1;
    if (event.type === 'delete') {
      messagesDeleted += event.ids.length;
      held -= event.ids.length;
    }
    if (event.type === 'truncate') {
      messagesDeleted += held;
      held = 0;
    }
  });
  return () => ({ smtpAccepted, smtpAcceptedSize, messagesDeleted, smtpRejected: metrics.smtpRejected });
}
