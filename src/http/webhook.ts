import type { Logger } from 'pino';
import type { Sink } from '../sink/sink.js';
import { listItem } from '../sink/summary.js';

/** Waits before the 2nd and 3rd attempt; then the delivery is given up and logged. */
const RETRY_DELAYS_MS = [1000, 5000] as const;
const TIMEOUT_MS = 10_000;
/** Deliveries waiting or in flight; past this the newest is dropped (and logged), not queued. */
const MAX_PENDING = 100;

export interface Webhook {
  stop(): void;
}

/**
 * Mailpit's webhook: each new message's summary (the list item) is POSTed as JSON to the URL.
 * Intake never waits for it: the sink's event only starts the delivery. A failure (no answer,
 * timeout, or a status of 400 and above) is tried again twice, then logged.
 */
export function startWebhook(url: string, sink: Sink, log: Logger): Webhook {
  let pending = 0;
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();

  const attempt = async (body: string, id: string, attemptNo: number): Promise<void> => {
    let problem: string;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'mailwharf webhook' },
        body,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (response.status < 400) {
        pending -= 1;
        return;
      }
      problem = `HTTP ${String(response.status)}`;
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
    const delay = RETRY_DELAYS_MS[attemptNo - 1];
    if (stopped || delay === undefined) {
      pending -= 1;
      log.warn({ id, url, attempts: attemptNo, problem }, 'webhook delivery failed; given up');
      return;
    }
    log.info({ id, url, attempt: attemptNo, problem, retryInMs: delay }, 'webhook delivery failed; retrying');
    const timer = setTimeout(() => {
      timers.delete(timer);
      void attempt(body, id, attemptNo + 1);
    }, delay);
    timer.unref();
    timers.add(timer);
  };

  const unsubscribe = sink.on((event) => {
    if (event.type !== 'new' || stopped) return;
    if (pending >= MAX_PENDING) {
      log.warn({ id: event.message.id, url, pending }, 'webhook backlog full; this message is not sent');
      return;
    }
    pending += 1;
    void attempt(JSON.stringify(listItem(event.message)), event.message.id, 1);
  });

  return {
    stop() {
      stopped = true;
      unsubscribe();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
