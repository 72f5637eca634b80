import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

let processMetrics: Registry | undefined;

/**
 * GC, event loop and memory metrics: their observers live as long as the process, so one set.
 * Unprefixed (process_cpu_seconds_total, nodejs_heap_size_used_bytes…), the names every
 * standard Node.js dashboard queries.
 */
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

/**
 * Prometheus metrics of one server instance, in its own registry (never prom-client's
 * global one), so two servers in one process keep separate counts.
 */
export class Metrics {
  readonly registry = new Registry();
  /** Mailpit's info.RuntimeStats.SMTPRejected: refused MAIL and RCPT commands and refused messages. */
  private rejected = 0;
  private readonly connections = new Counter({
    name: 'mailwharf_smtp_connections_total',
    help: 'SMTP connections accepted, by listener',
    labelNames: ['listener'] as const,
    registers: [this.registry],
  });
  private readonly messages = new Counter({
    name: 'mailwharf_smtp_messages_total',
    help: 'Messages at the end of DATA, by listener, outcome and reply class',
    labelNames: ['listener', 'outcome', 'class'] as const,
    registers: [this.registry],
  });
  private readonly rejections = new Counter({
    name: 'mailwharf_smtp_rejections_total',
    help: 'Refused SMTP commands by listener, stage and reply class',
    labelNames: ['listener', 'stage', 'class'] as const,
    registers: [this.registry],
  });
  private readonly bytes = new Counter({
    name: 'mailwharf_smtp_bytes_total',
    help: 'Bytes of accepted messages, by listener',
    labelNames: ['listener'] as const,
    registers: [this.registry],
  });
  private readonly authFailures = new Counter({
    name: 'mailwharf_smtp_auth_failures_total',
    help: 'Failed AUTH attempts (wrong credentials), by listener',
    labelNames: ['listener'] as const,
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: 'mailwharf_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  private readonly deliveries = new Counter({
    name: 'mailwharf_delivery_recipients_total',
    help: 'Delivery attempts per recipient, by result: delivered, deferred or bounced',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  constructor(spoolDepth: () => Promise<number>) {
    new Gauge({
      name: 'mailwharf_spool_messages',
      help: 'Messages held in the spool',
      registers: [this.registry],
      async collect() {
        this.set(await spoolDepth());
      },
    });
  }

  get smtpRejected(): number {
    return this.rejected;
  }

  /** Instance metrics plus the process metrics, which are collected once per process. */
  text(): Promise<string> {
    return Registry.merge([this.registry, processRegistry()]).metrics();
  }

  connection(listener: string): void {
    this.connections.inc({ listener });
  }

  message(listener: string, code: number): void {
    if (code !== 250) this.rejected += 1;
    const klass = `${String(Math.floor(code / 100))}xx`;
    this.messages.inc({ listener, outcome: code === 250 ? 'accepted' : 'rejected', class: klass });
  }

  stored(listener: string, bytes: number): void {
    this.bytes.inc({ listener }, bytes);
  }

  authFailure(listener: string): void {
    this.authFailures.inc({ listener });
  }

  /** One recipient's attempt, as the delivery log line says it (sent, deferred, bounced). */
  deliveryAttempt(status: 'sent' | 'deferred' | 'bounced'): void {
    this.deliveries.inc({ status: status === 'sent' ? 'delivered' : status });
  }

  /** Queue size and the age of its oldest message, read from the delivery worker when scraped. */
  watchQueue(queue: { readonly queued: number; oldestReceivedAt(): number | undefined }): void {
    new Gauge({
      name: 'mailwharf_queue_messages',
      help: 'Messages queued for delivery (held ones included)',
      registers: [this.registry],
      collect() {
        this.set(queue.queued);
      },
    });
    new Gauge({
      name: 'mailwharf_queue_oldest_age_seconds',
      help: 'Age of the oldest message queued for delivery; 0 when the queue is empty',
      registers: [this.registry],
      collect() {
        const oldest = queue.oldestReceivedAt();
        this.set(oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
      },
    });
  }

  rejection(listener: string, stage: string, code: number): void {
    this.rejected += 1;
    this.rejections.inc({ listener, stage, class: `${String(Math.floor(code / 100))}xx` });
  }
}
