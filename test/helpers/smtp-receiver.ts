import { createSecureContext, type SecureContext } from 'node:tls';
import { SMTPServer } from 'smtp-server';
import type { Leaf } from './private-ca.js';

export interface Received {
  readonly rcptTo: readonly string[];
  readonly secure: boolean;
  readonly text: string;
}

export interface Receiver {
  readonly host: string;
  readonly port: number;
  readonly received: Received[];
  /** Connections made to it, delivering or not. */
  readonly connections: number;
  /** The names clients asked for in SNI. */
  readonly servernames: string[];
  stop(): Promise<void>;
}

/**
 * A receiving MTA on one loopback address (127.0.0.x), a real smtp-server: with `tls` it
 * offers STARTTLS with that certificate, without it offers none.
 */
export async function startReceiver(host: string, port: number, tls?: Leaf): Promise<Receiver> {
  const received: Received[] = [];
  let connections = 0;
  const servernames: string[] = [];
  const context = tls ? createSecureContext({ key: tls.key, cert: tls.cert }) : undefined;
  const server = new SMTPServer({
    authOptional: true,
    // Without a certificate, STARTTLS is refused too (smtp-server would answer it with its own).
    disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    ...(tls
      ? {
          key: tls.key,
          cert: tls.cert,
          SNICallback: (name: string, callback: (error: Error | null, context?: SecureContext) => void) => {
            servernames.push(name);
            callback(null, context);
          },
        }
      : {}),
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          secure: session.secure,
          text: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  server.on('error', () => undefined); // a client that fails the handshake is the test's point
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve();
    });
  });
  const address = server.server.address();
  return {
    host,
    port: typeof address === 'object' && address ? address.port : port,
    received,
    servernames,
    get connections() {
      return connections;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}
