import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { createServer, startMailwharf, type Mailwharf } from '../../src/index.js';
import { Spool } from '../../src/spool/spool.js';
import { firstState, startRelay, submit } from '../helpers/relay.js';

/**
 * A stop is bounded by shutdownGraceSeconds: a remote that stalls a delivery or an HTTP
 * client that never finishes its request cannot hold the process. Without the bound each
 * case below waits for a timeout of a minute or more, far past these tests' own limit.
 */
describe('bounded shutdown', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });

  /** A relay (grace 1 s) whose smarthost accepts the connection, then sits on DATA for two minutes. */
  async function relayToStalledSmarthost(delivery?: Record<string, unknown>) {
    const upstream: Mailwharf = await startMailwharf();
    cleanups.push(() => upstream.stop());
    const stall = upstream.faults.add({ stage: 'data', delayMs: 120_000 });
    const started = await startRelay(
      { type: 'smarthost', host: '127.0.0.1', port: upstream.ports.smtp, tls: 'none' },
      { extra: { shutdownGraceSeconds: 1 }, ...(delivery ? { delivery } : {}) },
    );
    cleanups.push(started.close);
    return { upstream, stall, relay: started.relay };
  }

  it('a delivery stalled by the remote is cut after the grace period and stays queued, deferred', async () => {
    const { upstream, stall, relay } = await relayToStalledSmarthost();
    const sent = await submit(relay, { from: 'app@relay.test', to: 'user@example.org', subject: 'Stalled' });
    const id = /queued as (\w+)/.exec(sent.response)?.[1];
    await expect.poll(() => upstream.faults.fired(stall), { timeout: 10_000 }).toBe(1);

    await relay.stop();

    const state = await firstState(relay, (s) => s.attempts > 0, 'the cut attempt recorded');
    expect(state.recipients[0]?.status).toBe('deferred');
    expect((await relay.spool.list()).map((envelope) => envelope.id)).toEqual([id]);
  }, 20_000);

  it('after a forced stop nothing more goes out: a delivery waiting for a connection is deferred, not sent', async () => {
    const { upstream, stall, relay } = await relayToStalledSmarthost({ concurrency: { perDestination: 1 } });
    // One connection to the smarthost: the first message stalls in DATA, the second waits its turn.
    await submit(relay, { from: 'app@relay.test', to: 'one@example.org', subject: 'First' });
    await submit(relay, { from: 'app@relay.test', to: 'two@example.org', subject: 'Second' });
    await expect.poll(() => upstream.faults.fired(stall), { timeout: 10_000 }).toBe(1);

    await relay.stop();
    // Were the waiting delivery let through when the first was cut, it would reach DATA here.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(upstream.faults.fired(stall)).toBe(1);
    expect(await relay.spool.count()).toBe(2);
  }, 20_000);

  it('an HTTP request that never finishes its headers is cut after the grace period', async () => {
    const mail = await startMailwharf({
      config: { http: { enabled: true, port: 0 }, shutdownGraceSeconds: 1 },
    });
    cleanups.push(() => mail.stop());
    const socket: Socket = connect(mail.server.http?.port() ?? 0, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const closed = once(socket, 'close');

    await mail.stop();

    await closed;
    expect(socket.destroyed).toBe(true);
  }, 20_000);

  it('a start that fails (HTTP port in use) stops what it started and releases the spool', async () => {
    const blocker = createTcpServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const root = await mkdtemp(join(tmpdir(), 'mailwharf-failed-start-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const config = validateConfig(
      {
        hostname: 'mx.test',
        mode: 'capture',
        spool: { dir: join(root, 'spool') },
        tls: { selfSignedDir: join(root, 'certs') },
        http: { enabled: true, host: '127.0.0.1', port: (blocker.address() as AddressInfo).port },
        policies: { relay: { auth: 'none', relay: { trustedNetworks: ['127.0.0.1/32'] } } },
        listeners: [
          { name: 'smtp', role: 'relay', port: 0, host: '127.0.0.1', tls: 'none', policy: 'relay' },
        ],
      },
      'failed start test',
    );
    const server = await createServer(config, { logger: pino({ level: 'silent' }) });
    await expect(server.start()).rejects.toThrow('the port is already in use');
    const smtpPort = server.ports.smtp ?? 0;
    expect(smtpPort).toBeGreaterThan(0);

    // The SMTP listener that did start is closed, and the spool can be opened again.
    const refused = connect(smtpPort, '127.0.0.1');
    await expect(once(refused, 'connect')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const again = await Spool.open(join(root, 'spool'));
    await again.spool.close();
    await server.stop();
  });
});
