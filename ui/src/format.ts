/** How times, sizes and addresses read in the UI. */
import type { Address } from './api.js';

const timeOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayMonth = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const fullDate = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const withYear = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });

/** Today: 14:05; this year: 3 Mar; older: 3 Mar 2023. */
export function shortTime(iso: string, now = new Date()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  if (date.toDateString() === now.toDateString()) return timeOnly.format(date);
  return date.getFullYear() === now.getFullYear() ? dayMonth.format(date) : withYear.format(date);
}

export function longTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : fullDate.format(date);
}

export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** "Name <address>", or the address alone. */
export function address(a: Address): string {
  if (a.Name && a.Address) return `${a.Name} <${a.Address}>`;
  return a.Name || a.Address;
}

/** What a list row shows for the sender: the name if there is one. */
export function senderName(a: Address): string {
  return a.Name || a.Address || '(no sender)';
}
