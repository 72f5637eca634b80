import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe } from '../helpers/smtp-probe.js';

/**
 * Client-initiated renegotiation (TLS 1.2; TLS 1.3 has none) costs the server a full
 * handshake per request: a cheap way to burn CPU (testssl flags it as VULNERABLE). Node
 * permits 3 per 10 minutes on every server socket unless told otherwise. Every listener
 * must refuse the first one: the renegotiation fails and the connection ends.
 */
function renegotiate(socket: TLSSocket): Promise<'renegotiated' | 'refused'> {
  return new Promise((resolve) => {
    const refused = (): void => {
      resolve('refused');
    };
    socket.once('close', refused);
    socket.once('error', refused);
    const started = socket.renegotiate({ rejectUnauthorized: false }, (error) => {
      resolve(error ? 'refused' : 'renegotiated');
    });
    if (!started) resolve('refused');
  });
}

describe('client-initiated TLS renegotiation', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer();
  });
  afterAll(async () => {
    await mw.close();
  });

  it.each(['smtp', 'submission', 'alt-submission'])('is refused after STARTTLS on %s', async (listener) => {
    const probe = await SmtpProbe.connect(mw.port(listener));
    await probe.read();
    await probe.command('EHLO client.test');
    expect((await probe.command('STARTTLS')).code).toBe(220);
    const secure = await probe.upgrade({ rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
    expect(secure.getProtocol()).toBe('TLSv1.2');
    expect((await probe.command('EHLO client.test')).code).toBe(250);
    expect(await renegotiate(secure)).toBe('refused');
    await probe.closedByServer();
  });

  it('is refused on the implicit-TLS listener', async () => {
    const probe = await SmtpProbe.connect(mw.port('submissions'), {
      tls: { rejectUnauthorized: false, maxVersion: 'TLSv1.2' },
    });
    expect((await probe.read()).code).toBe(220);
    const secure = probe.tlsSocket;
    if (!secure) throw new Error('not a TLS connection');
    expect(await renegotiate(secure)).toBe('refused');
    await probe.closedByServer();
  });

  it('leaves the listener serving the next client', async () => {
    const probe = await SmtpProbe.connect(mw.port('submission'));
    expect((await probe.read()).code).toBe(220);
    probe.close();
  });
});
