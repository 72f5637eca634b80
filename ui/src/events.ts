/**
 * The live feed: the server's /api/events WebSocket, reconnected with backoff. Each
 * (re)connection is reported, so the app can reload what it may have missed meanwhile.
 */
import type { MessageSummary } from './api.js';

export interface Stats {
  readonly Total: number;
  readonly Unread: number;
}

export type LiveEvent =
  | { readonly Type: 'new'; readonly Data: MessageSummary }
  | { readonly Type: 'stats'; readonly Data: Stats }
  /** Mailpit sends {ID, Read} for a read change and {ID, Tags} for a tag change. */
  | {
      readonly Type: 'update';
      readonly Data: { readonly ID: string; readonly Read?: boolean; readonly Tags?: readonly string[] };
    }
  | { readonly Type: 'delete'; readonly Data: { readonly ID: string } }
  | { readonly Type: 'truncate'; readonly Data: unknown };

export interface EventHandlers {
  event(event: LiveEvent): void;
  /** Connected (again): anything sent while disconnected was missed. */
  connected(): void;
  disconnected(): void;
}

const TYPES = new Set(['new', 'stats', 'update', 'delete', 'truncate']);

function parse(data: unknown): LiveEvent | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const frame = JSON.parse(data) as { Type?: unknown };
    return typeof frame.Type === 'string' && TYPES.has(frame.Type) ? (frame as LiveEvent) : undefined;
  } catch {
    return undefined;
  }
}

export function eventsUrl(): string {
  const url = new URL('api/events', document.baseURI);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

/** Connects and stays connected; the returned function closes for good. */
export function connectEvents(handlers: EventHandlers): () => void {
  let socket: WebSocket | undefined;
  let retry: number | undefined;
  let delay = 500;
  let closed = false;

  const open = (): void => {
    socket = new WebSocket(eventsUrl());
    socket.addEventListener('open', () => {
      delay = 500;
      handlers.connected();
    });
    socket.addEventListener('message', (message: MessageEvent) => {
      const event = parse(message.data);
      if (event) handlers.event(event);
    });
    socket.addEventListener('close', () => {
      socket = undefined;
      if (closed) return;
      handlers.disconnected();
      retry = window.setTimeout(open, delay);
      delay = Math.min(delay * 2, 10_000);
    });
  };
  open();
  return () => {
    closed = true;
    window.clearTimeout(retry);
    socket?.close();
  };
}
