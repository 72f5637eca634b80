import type { FastifyReply, FastifyRequest } from 'fastify';

/** How long a refused upload may keep sending before the connection is cut. */
const LINGER_MS = 5_000;

/** Whether fastify gave up on a request body for its size (declared or counted while streaming). */
export function isBodyTooLarge(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: unknown }).code === 'FST_ERR_CTP_BODY_TOO_LARGE'
  );
}

/**
 * Answers 413 to a client that is still sending its body, in a way it can read. Node's HTTP
 * server destroys the socket right after an error response marked `Connection: close`; the
 * kernel then answers the body bytes still arriving with a reset, which can overtake the 413,
 * so the client (curl, fetch, a Mailpit client) sees "connection reset" instead of the reason.
 * Web servers do a "lingering close" for this: send the response, half-close, read and discard
 * what still comes, and close once the client has stopped or after LINGER_MS.
 */
export function refuseUnreadBody(request: FastifyRequest, reply: FastifyReply, message: string): void {
  reply.hijack();
  const socket = request.raw.socket;
  const body = `${message}\n`;
  socket.write(
    'HTTP/1.1 413 Payload Too Large\r\n' +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${String(Buffer.byteLength(body))}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
  socket.end();
  // The parser still reads the socket; letting the request flow throws the rest away.
  request.raw.resume();
  const cut = setTimeout(() => socket.destroy(), LINGER_MS);
  cut.unref();
  socket.once('close', () => {
    clearTimeout(cut);
  });
}
