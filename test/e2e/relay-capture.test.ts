import { describe, expect, it } from 'vitest';
import { startMailwharf } from '../../src/index.js';
import { eventually, startRelay, submit } from '../helpers/relay.js';

/**
 * Relay mode with captureDomains: on the old code a message to bob@local.test stayed in the
 * spool as "queued" forever and never reached /api/v1/messages; release by id gave 404.
 */
describe('relay mode with captureDomains', () => {
  it('keeps a captured copy that is listed at the 250, releasable and pruned; the others are delivered once', async () => {
    await using upstream = await startMailwharf();
    const route = { type: 'smarthost', host: '127.0.0.1', port: upstream.ports.smtp ?? 0, tls: 'none' };
    const { relay, close } = await startRelay(route, {
      delivery: { captureDomains: ['local.test'] },
      extra: {
        acceptedDomains: ['local.test'],
        http: { enabled: true, port: 0 },
        sink: { retention: { maxMessages: 1 } },
        release: { route, allowedDomains: ['local.test'] },
      },
    });
    try {
      const base = `http://127.0.0.1:${String(relay.http?.port())}`;
      await submit(relay, {
        from: 'app@example.com',
        to: ['bob@local.test', 'carol@remote.test'],
        subject: 'split',
      });
      // Listed the moment the 250 arrives, addressed to the captured recipient alone.
      const list = (await (await fetch(`${base}/api/v1/messages`)).json()) as {
        messages: { ID: string; Subject: string }[];
      };
      expect(list.messages.map((m) => m.Subject)).toEqual(['split']);
      const copyId = list.messages[0]?.ID ?? '';
      const envelope = (await (await fetch(`${base}/api/mailwharf/message/${copyId}/envelope`)).json()) as {
        RcptTo: string[];
      };
      expect(envelope.RcptTo).toEqual(['bob@local.test']);

      // carol is delivered, once; bob is not; the original leaves the queue.
      const delivered = await upstream.waitForMessage({ subject: 'split' }, { timeout: 10_000 });
      expect(delivered.envelope.rcptTo.map((r) => r.address)).toEqual(['carol@remote.test']);
      await eventually(
        async () => ((await relay.spool.list()).every((e) => e.state === 'captured') ? true : undefined),
        'the original to leave the queue',
      );
      expect((await relay.spool.list()).map((e) => e.id)).toEqual([copyId]);

      // Releasable by its id.
      const released = await fetch(`${base}/api/v1/message/${copyId}/release`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ To: ['bob@local.test'] }),
      });
      expect(released.status).toBe(200);
      const arrived = await upstream.waitForMessage({ recipient: 'bob@local.test' }, { timeout: 10_000 });
      expect(arrived.subject).toBe('split');
      await eventually(
        async () => ((await relay.spool.list()).length === 1 ? true : undefined),
        'the released copy to be sent',
      );

      // Pruned by retention (maxMessages: 1) when the next captured copy arrives.
      await submit(relay, { from: 'app@example.com', to: 'dave@local.test', subject: 'second' });
      await relay.sink?.settled();
      const after = (await (await fetch(`${base}/api/v1/messages`)).json()) as {
        messages: { Subject: string }[];
      };
      expect(after.messages.map((m) => m.Subject)).toEqual(['second']);
      expect(await relay.spool.envelope(copyId)).toBeUndefined();
      // Each delivered recipient got exactly one copy.
      expect(
        upstream.messages({ subject: 'split' }).map((m) => m.envelope.rcptTo.map((r) => r.address)),
      ).toEqual([['carol@remote.test'], ['bob@local.test']]);
    } finally {
      await close();
    }
  }, 60_000);
});
