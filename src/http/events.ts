import type { Condition } from '../sink/search.js';
import type { SinkEvent } from '../sink/sink.js';
import { listItem } from '../sink/summary.js';
import type { HttpContext } from './context.js';

/**
 * Mailpit's /api/events WebSocket: {Type, Data} frames for new, update, delete, truncate,
 * and stats after each change. With ?mailbox= only that mailbox's messages are told.
 */
/** The part of a ws WebSocket we use. */
export interface EventSocket {
  readonly readyState: number;
  readonly OPEN: number;
  send(data: string): void;
  on(event: 'close' | 'error', listener: () => void): unknown;
}

export function streamEvents(ctx: HttpContext, socket: EventSocket, scope: Condition | undefined): void {
  const send = (Type: string, Data: unknown): void => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ Type, Data }));
  };
  const stats = (): void => {
    const { total, unread } = ctx.sink.stats();
    send('stats', { Total: total, Unread: unread, Version: ctx.version });
  };
  const visible = (id: string): boolean => {
    return !scope || ctx.sink.matches(id, scope);
  };
  const unsubscribe = ctx.sink.on((event: SinkEvent) => {
    switch (event.type) {
      case 'new':
        if (!visible(event.message.id)) return;
        send('new', listItem(event.message));
        break;
      case 'complete':
        // Mailpit's update frame carries the ID and what changed; here the whole summary.
        if (!visible(event.message.id)) return;
        send('update', listItem(event.message));
        break;
      case 'update':
        for (const id of event.ids.filter(visible)) send('update', { ID: id, Read: event.read });
        break;
      case 'tags':
        // As Mailpit's SetMessageTags: an update frame per message with its tags now.
        for (const { id, tags } of event.messages.filter((m) => visible(m.id))) {
          send('update', { ID: id, Tags: tags });
        }
        break;
      case 'delete':
        // Deleted messages are gone from the index, so a mailbox cannot filter them; ids are opaque.
        for (const id of event.ids) send('delete', { ID: id });
        break;
      case 'truncate':
        send('truncate', '');
        break;
    }
    stats();
  });
  socket.on('close', unsubscribe);
  socket.on('error', unsubscribe);
}
