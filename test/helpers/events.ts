/** The live events stream (`/api/events`, Mailpit's WebSocket) as a test reads it. */
import { once } from 'node:events';
import { WebSocket } from 'ws';

export interface EventsStream<F> {
  readonly socket: WebSocket;
  /** Every frame received so far, in order, parsed. */
  readonly frames: F[];
}

/** Opens the stream under `base` (an http:// URL) and resolves once it is open. */
export async function openEvents<F>(base: string): Promise<EventsStream<F>> {
  const socket = new WebSocket(`${base.replace('http', 'ws')}/api/events`);
  const frames: F[] = [];
  socket.on('message', (data: Buffer) => frames.push(JSON.parse(data.toString()) as F));
  await once(socket, 'open');
  return { socket, frames };
}
