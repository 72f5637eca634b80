import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket, type ConnectionOptions } from 'node:tls';

export interface Reply {
  readonly code: number;
  /** Every line of the reply, without CRLF, e.g. "250-PIPELINING", "250 SIZE 1024". */
  readonly lines: readonly string[];
  /** The last line, the one tests usually compare exactly. */
  readonly last: string;
}

/**
 * A raw SMTP client for tests that check exact reply lines or send bytes no well-behaved
 * client would (pipelined STARTTLS, bare LF). Every read has a deadline.
 */
export class SmtpProbe {
  private buffer = '';
  private waiters: (() => void)[] = [];
  private closed = false;

  private constructor(private socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('latin1');
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  static connect(
    port: number,
    options: { localAddress?: string; tls?: ConnectionOptions } = {},
  ): Promise<SmtpProbe> {
    return new Promise((resolve, reject) => {
      const socket = options.tls
        ? tlsConnect({ host: '127.0.0.1', port, ...options.tls }, () => resolve(new SmtpProbe(socket)))
        : netConnect(
            {
              host: '127.0.0.1',
              port,
              ...(options.localAddress ? { localAddress: options.localAddress } : {}),
            },
            () => resolve(new SmtpProbe(socket)),
          );
      socket.once('error', reject);
    });
  }

  /** Sends bytes as they are; add the CRLF yourself. */
  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends one command line and returns its reply. */
  async command(line: string, timeoutMs = 5000): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.read(timeoutMs);
  }

  /** The next complete reply (all its lines). */
  async read(timeoutMs = 5000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = this.takeReply();
      if (reply) return reply;
      if (this.closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.buffer)}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no reply within ${timeoutMs} ms; unread: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private takeReply(): Reply | undefined {
    const lines: string[] = [];
    let offset = 0;
    for (;;) {
      const end = this.buffer.indexOf('\r\n', offset);
      if (end < 0) return undefined;
      const line = this.buffer.slice(offset, end);
      lines.push(line);
      offset = end + 2;
      if (line.length < 4 || line[3] !== '-') {
        this.buffer = this.buffer.slice(offset);
        return { code: Number(line.slice(0, 3)), lines, last: line };
      }
    }
  }

  /** Resolves when the server closes the connection (or rejects after the deadline). */
  async closedByServer(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('server did not close the connection');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Upgrades this connection after a 220 to STARTTLS. */
  async upgrade(options: ConnectionOptions = { rejectUnauthorized: false }): Promise<TLSSocket> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const socket = tlsConnect({ socket: plain, servername: 'mx.test', ...options }, () => resolve(socket));
      socket.once('error', reject);
    });
    this.socket = secure;
    this.buffer = '';
    this.attach(secure);
    return secure;
  }

  /** The TLS socket (implicit TLS or after upgrade()), e.g. to renegotiate; undefined in cleartext. */
  get tlsSocket(): TLSSocket | undefined {
    return 'getProtocol' in this.socket ? this.socket : undefined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A full transaction after EHLO; returns the reply to the end of DATA. */
export async function sendMessage(
  probe: SmtpProbe,
  from: string,
  to: readonly string[],
  body: string,
): Promise<Reply> {
  for (const line of [`MAIL FROM:<${from}>`, ...to.map((rcpt) => `RCPT TO:<${rcpt}>`)]) {
    const reply = await probe.command(line);
    if (reply.code !== 250) return reply;
  }
  const data = await probe.command('DATA');
  if (data.code !== 354) return data;
  probe.write(`${body}\r\n.\r\n`);
  return probe.read();
}
