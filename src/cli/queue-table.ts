import type { DeliveryState } from '../delivery/state.js';
import type { Envelope } from '../spool/envelope.js';

function stateColumn(e: Envelope, delivery: DeliveryState | undefined): string {
  if (!delivery) return e.state;
  if (delivery.held) return 'held';
  return delivery.recipients.some((r) => r.status === 'deferred') ? 'deferred' : e.state;
}

/** `mailwharf queue list` as a plain table, one message per line, like Postfix's mailq. */
export function formatQueueTable(envelopes: readonly (Envelope & { delivery?: DeliveryState })[]): string {
  if (envelopes.length === 0) return 'queue is empty\n';
  const rows = envelopes.map((e) => [
    e.id,
    String(e.size),
    stateColumn(e, e.delivery),
    e.receivedAt,
    String(e.delivery?.attempts ?? 0),
    e.delivery && e.delivery.attempts > 0 ? e.delivery.nextAttemptAt : '-',
    e.mailFrom === '' ? '<>' : e.mailFrom,
    e.rcptTo.map((r) => r.address).join(','),
    e.delivery?.lastError ?? '',
  ]);
  const header = [
    'ID',
    'SIZE',
    'STATE',
    'RECEIVED',
    'ATTEMPTS',
    'NEXT ATTEMPT',
    'SENDER',
    'RECIPIENTS',
    'LAST ERROR',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ');
  return `${[header, ...rows].map(line).join('\n')}\n${envelopes.length} message(s)\n`;
}
