import { afterEach, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { DestinationRate } from '../../src/delivery/destination-rate.js';
import { ConnectionPool } from '../../src/delivery/pool.js';
import type { DeliveryState } from '../../src/delivery/state.js';
import type { MailwharfServer } from '../../src/index.js';
import { eventually, queuedStates, startRelay, submit } from '../helpers/relay.js';

/**
 * delivery.rateLimits connectionsPerMinute and maxConnections, seen from the receiving side:
 * a real smtp-server that notes when each connection opens and how many are open at once, and
 * that can hold every DATA unanswered, so each further delivery needs a new connection.
 */
interface CountingReceiver {
  readonly port: number;
  /** When each connection opened (ms since the epoch), in order. */
  readonly opened: number[];
  /** Messages delivered, by first recipient. */
  readonly delivered: string[];
  /** DATA held unanswered right now. */
  held(): number;
  /** Answers the held DATA and every later one at once. */
  release(): void;
  peakOpen(): number;
  stop(): Promise<void>;
}

async function startCountingReceiver(): Promise<CountingReceiver> {
  const opened: number[] = [];
  const delivered: string[] = [];
  const waiting: (() => void)[] = [];
  let holding = true;
  let open = 0;
  let peak = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    onConnect(_session, callback) {
      opened.push(Date.now());
      open++;
      peak = Math.max(peak, open);
      callback();
    },
    onClose() {
      open--;
    },
    onData(stream, session, callback) {
      stream.resume();
      stream.on('end', () => {
        const answer = (): void => {
          delivered.push(session.envelope.rcptTo[0]?.address ?? '');
          callback();
        };
        if (holding) waiting.push(answer);
        else answer();
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    opened,
    delivered,
    held: () => waiting.length,
    release() {
      holding = false;
      for (const answer of waiting.splice(0)) answer();
    },
    peakOpen: () => peak,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(): Promise<CountingReceiver> {
  const started = await startCountingReceiver();
  cleanups.push(async () => {
    started.release();
    await started.stop();
  });
  return started;
}

async function states(relay: MailwharfServer): Promise<DeliveryState[]> {
  return (await queuedStates(relay)).flatMap(({ state }) => (state ? [state] : []));
}

describe('connections per minute to a destination domain', () => {
  it('opens at most connectionsPerMinute new connections in any minute; the rest wait, then go', async () => {
    const peer = await receiver();
    const { relay, close } = await startRelay(
      { type: 'smarthost', host: '127.0.0.1', port: peer.port, tls: 'none' },
      { delivery: { rateLimits: [{ domains: ['conn.test'], connectionsPerMinute: 2 }] } },
    );
    cleanups.push(close);
    const start = Date.now();
    for (let i = 1; i <= 4; i++)
      await submit(relay, { from: 'app@relay.test', to: `u${String(i)}@conn.test`, subject: String(i) });
    // Two deliveries hold a connection each (DATA unanswered): the other two would need a third
    // and a fourth connection this minute, so they wait, without an attempt counted.
    const waiting = await eventually(async () => {
      const held = (await states(relay)).filter((s) => s.recipients[0]?.outcome?.enhanced === '4.7.0');
      return held.length === 2 && peer.held() === 2 ? held : undefined;
    }, 'two deliveries held at the receiver and two waiting for the connection rate');
    for (const state of waiting) {
      expect(state.attempts).toBe(0);
      expect(state.recipients[0]?.outcome?.text).toMatch(
        /^connection rate limit for conn\.test reached \(2 new connections per minute\); next try in \d+ s$/,
      );
      // Due when the first connection leaves the one-minute window, not at the 0.2 s retry.
      expect(Date.parse(state.nextAttemptAt)).toBeGreaterThan(start + 50_000);
    }
    expect(peer.opened).toHaveLength(2);
    peer.release();
    // The rest go in the next window; nothing accepted is lost.
    await eventually(
      async () => (peer.delivered.length === 4 && (await relay.spool.list()).length === 0 ? true : undefined),
      'all four delivered',
      150_000,
    );
    expect(peer.delivered.sort()).toEqual(['u1@conn.test', 'u2@conn.test', 'u3@conn.test', 'u4@conn.test']);
    // Any three connections span a minute. The relay counts when it decides to connect and the
    // receiver when it accepts, a little later: 2 s of slack for that lag on a loaded machine.
    for (let i = 2; i < peer.opened.length; i++)
      expect((peer.opened[i] ?? 0) - (peer.opened[i - 2] ?? 0)).toBeGreaterThan(58_000);
  }, 180_000);
});

describe('messages and connections per minute together', () => {
  it('a message held by the connection rate gives back the message rate it took', async () => {
    const peer = await receiver();
    const { relay, close } = await startRelay(
      { type: 'smarthost', host: '127.0.0.1', port: peer.port, tls: 'none' },
      {
        delivery: {
          rateLimits: [{ domains: ['both.test'], messagesPerMinute: 3, connectionsPerMinute: 1 }],
        },
      },
    );
    cleanups.push(close);
    const heldBy = async (kind: 'message' | 'connection'): Promise<number> =>
      (await states(relay)).filter((s) => s.recipients[0]?.outcome?.text.startsWith(`${kind} rate limit`))
        .length;
    // The first takes a message and the minute's one connection, and holds it (DATA unanswered).
    await submit(relay, { from: 'app@relay.test', to: 'u1@both.test', subject: '1' });
    await eventually(() => (peer.held() === 1 ? true : undefined), 'the first delivery held at the receiver');
    // The next three each need a new connection: all wait for the connection rate. Had each kept
    // the message it took, the third would have found the message rate (3 a minute) spent.
    for (let i = 2; i <= 4; i++)
      await submit(relay, { from: 'app@relay.test', to: `u${String(i)}@both.test`, subject: String(i) });
    await eventually(
      async () => ((await heldBy('connection')) === 3 ? true : undefined),
      'three deliveries waiting for the connection rate',
    );
    expect(await heldBy('message')).toBe(0);
    expect(peer.opened).toHaveLength(1);
  }, 60_000);
});

describe('connections open at once to a destination domain', () => {
  it('the pool never opens more than maxConnections: a third delivery waits and reuses one', async () => {
    const peer = await receiver();
    const rate = new DestinationRate([{ domains: ['cap.test'], maxConnections: 2 }]);
    const pool = new ConnectionPool(
      { total: 20, perDestination: 5 },
      { name: 'relay.test', connectTimeoutMs: 5000 },
    );
    cleanups.push(() => {
      pool.closeAll();
      return Promise.resolve();
    });
    const destination = {
      key: 'cap.test',
      hops: [{ host: '127.0.0.1', port: peer.port, tls: 'none' as const, verifyCertificate: false }],
    };
    const limits = rate.connectionLimits('cap.test');
    const first = await pool.acquire(destination, limits);
    const second = await pool.acquire(destination, limits);
    let third: Awaited<ReturnType<ConnectionPool['acquire']>> | undefined;
    const pending = pool.acquire(destination, limits).then((connection) => (third = connection));
    // Another destination still connects (the pool is not stuck), while the third waits.
    const other = await pool.acquire({ ...destination, key: 'other.test' });
    pool.release({ ...destination, key: 'other.test' }, other);
    expect(third).toBeUndefined();
    expect(peer.opened).toHaveLength(3);
    pool.release(destination, first);
    await pending;
    expect(third).toBe(first);
    expect(peer.opened).toHaveLength(3);
    pool.release(destination, second);
    pool.release(destination, third ?? first);
  });
});
