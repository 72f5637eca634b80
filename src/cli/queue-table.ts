import type { Envelope } from '../spool/envelope.js';

/** `mailwharf queue list` as a plain table, one message per line, like Postfix's mailq. */
export function formatQueueTable(envelopes: readonly Envelope[]): string {
  if (envelopes.length === 0) return 'queue is empty\n';
  const rows = envelopes.map((e) => [
    e.id,
    String(e.size),
    e.state,
    e.receivedAt,
    e.mailFrom === '' ? '<>' : e.mailFrom,
    e.rcptTo.map((r) => r.address).join(','),
  ]);
  const header = ['ID', 'SIZE', 'STATE', 'RECEIVED', 'SENDER', 'RECIPIENTS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ');
  return `${[header, ...rows].map(line).join('\n')}\n${envelopes.length} message(s)\n`;
}
