/** The message list: rows newest first, kept in step with the live feed. */
import type { MessageSummary } from './api.js';
import { h } from './dom.js';
import { senderName, shortTime, longTime, address } from './format.js';
import { tagChips } from './tags.js';

export function messageHref(id: string): string {
  return `#/m/${encodeURIComponent(id)}`;
}

export class MessageList {
  private readonly rows = new Map<string, HTMLLIElement>();
  private selected: string | undefined;

  constructor(
    private readonly root: HTMLUListElement,
    private readonly empty: HTMLElement,
  ) {}

  get size(): number {
    return this.rows.size;
  }

  has(id: string): boolean {
    return this.rows.has(id);
  }

  /** Replaces every row (a fresh page from the server). */
  replace(messages: readonly MessageSummary[]): void {
    this.rows.clear();
    this.root.replaceChildren();
    this.append(messages);
  }

  /** Adds older messages below (the next page). */
  append(messages: readonly MessageSummary[]): void {
    for (const message of messages) {
      if (this.rows.has(message.ID)) continue;
      const row = this.row(message);
      this.rows.set(message.ID, row);
      this.root.appendChild(row);
    }
    this.refresh();
  }

  /** A new message: on top. */
  prepend(message: MessageSummary): void {
    if (this.rows.has(message.ID)) return;
    const row = this.row(message);
    row.classList.add('arrived');
    this.rows.set(message.ID, row);
    this.root.prepend(row);
    this.refresh();
  }

  remove(id: string): void {
    this.rows.get(id)?.remove();
    this.rows.delete(id);
    this.refresh();
  }

  clear(): void {
    this.replace([]);
  }

  setRead(id: string, read: boolean): void {
    const row = this.rows.get(id);
    if (!row) return;
    row.classList.toggle('unread', !read);
    const dot = row.querySelector('.dot');
    dot?.setAttribute('aria-label', read ? '' : 'unread');
    dot?.setAttribute('title', read ? '' : 'Unread');
  }

  setTags(id: string, tags: readonly string[]): void {
    const row = this.rows.get(id);
    if (!row) return;
    row.querySelector('.tags')?.remove();
    const chips = tagChips(tags);
    if (chips) row.querySelector('.row')?.appendChild(chips);
  }

  /** Keeps the first `max` rows (a page stays a page when new mail is prepended). */
  trim(max: number): void {
    for (const id of this.ids().slice(max)) this.remove(id);
  }

  select(id: string | undefined): void {
    if (this.selected !== undefined) {
      const previous = this.rows.get(this.selected);
      previous?.classList.remove('selected');
      previous?.querySelector('a')?.removeAttribute('aria-current');
    }
    this.selected = id;
    if (id === undefined) return;
    const row = this.rows.get(id);
    row?.classList.add('selected');
    row?.querySelector('a')?.setAttribute('aria-current', 'true');
  }

  /** The id of the row after (or before) this one, for moving on once it is deleted. */
  neighbour(id: string): string | undefined {
    const row = this.rows.get(id);
    const next = (row?.nextElementSibling ?? row?.previousElementSibling) as HTMLElement | null | undefined;
    return next?.dataset.id;
  }

  /** The ids in order, for keyboard movement. */
  ids(): string[] {
    return [...this.root.children].flatMap((row) => (row as HTMLElement).dataset.id ?? []);
  }

  private refresh(): void {
    this.empty.hidden = this.rows.size > 0;
  }

  private row(message: MessageSummary): HTMLLIElement {
    const attachments =
      message.Attachments > 0
        ? h('span', {
            class: 'clip',
            attrs: {
              role: 'img',
              title: `${message.Attachments} attachment${message.Attachments === 1 ? '' : 's'}`,
              'aria-label': 'has attachments',
            },
          })
        : null;
    const link = h(
      'a',
      { class: 'row', attrs: { href: messageHref(message.ID) } },
      h(
        'span',
        { class: 'row-top' },
        h('span', {
          class: 'dot',
          attrs: message.Read ? {} : { 'aria-label': 'unread', title: 'Unread' },
        }),
        h('span', { class: 'from', text: senderName(message.From), attrs: { title: address(message.From) } }),
        attachments,
        h('time', {
          class: 'time',
          text: shortTime(message.Created),
          attrs: { datetime: message.Created, title: longTime(message.Created) },
        }),
      ),
      h('span', { class: 'subject', text: message.Subject || '(no subject)' }),
      h('span', { class: 'snippet', text: message.Snippet }),
      tagChips(message.Tags),
    );
    const row = h('li', { class: message.Read ? 'message' : 'message unread' }, link);
    row.dataset.id = message.ID;
    return row;
  }
}
