import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { ReleaseError, startMailwharf } from '../../src/index.js';

describe('release from the sink', () => {
  it('sends a copy of a captured message to the configured server, for allowed domains only', async () => {
    await using upstream = await startMailwharf();
    await using sink = await startMailwharf({
      config: {
        release: {
          route: { type: 'smarthost', host: '127.0.0.1', port: upstream.ports.smtp ?? 0, tls: 'none' },
          allowedDomains: ['example.org'],
        },
        delivery: { pollSeconds: 0.2 },
      },
    });
    await nodemailer
      .createTransport({ host: '127.0.0.1', port: sink.ports.smtp ?? 0 })
      .sendMail({ from: 'app@example.com', to: 'qa@example.org', subject: 'Captured', text: 'release me' });
    const captured = await sink.waitForMessage({ subject: 'Captured' });

    const refused = await sink.server
      .release(captured.id, ['someone@elsewhere.com'])
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ReleaseError);
    expect((refused as Error).message).toBe('not in release.allowedDomains: someone@elsewhere.com');

    const copy = await sink.server.release(captured.id);
    expect(copy.route).toBe('release');
    const arrived = await upstream.waitForMessage({ subject: 'Captured' }, { timeout: 10_000 });
    expect(arrived.envelope.rcptTo.map((r) => r.address)).toEqual(['qa@example.org']);
    expect(arrived.text.trim()).toBe('release me');
    // The captured original stays in the sink.
    expect((await sink.server.spool.envelope(captured.id))?.state).toBe('captured');
  });

  it('is refused when not configured', async () => {
    await using sink = await startMailwharf();
    await expect(sink.server.release('0000000000000000X')).rejects.toThrow(/release is not configured/);
  });
});
