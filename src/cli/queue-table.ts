import type { QueueEntry } from './queue.js';

/**
 * `mailwharf queue list` as a plain table, like Postfix's mailq: one line per message, then
 * one indented line per open recipient with its own last reason.
 */
export function formatQueueTable(entries: readonly QueueEntry[]): string {
  if (entries.length === 0) return 'queue is empty\n';
  const rows = entries.map((e) => [
    e.id,
    String(e.size),
    e.status,
    e.receivedAt,
    String(e.delivery?.attempts ?? 0),
    e.delivery && e.delivery.attempts > 0 ? e.delivery.nextAttemptAt : '-',
    e.mailFrom === '' ? '<>' : e.mailFrom,
  ]);
  const header = ['ID', 'SIZE', 'STATE', 'RECEIVED', 'ATTEMPTS', 'NEXT ATTEMPT', 'SENDER'];
  const widths = header.map((h, i) =>
    rows.reduce((width, r) => Math.max(width, (r[i] ?? '').length), h.length),
  );
  const line = (cells: readonly string[]): string =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ');
  const out: string[] = [line(header)];
  entries.forEach((entry, i) => {
    out.push(line(rows[i] ?? []));
    for (const r of entry.open) out.push(`    ${r.address}  ${r.status}${r.reason ? `  ${r.reason}` : ''}`);
  });
  return `${out.join('\n')}\n${String(entries.length)} message(s)\n`;
}
