import { afterEach, describe, expect, it } from 'vitest';
import { startRelay } from '../helpers/relay.js';
import { sendRaw, startSink, type Sink } from '../helpers/smtp-sink.js';

/**
 * delivery.routes as Postfix's transport_maps: three domains (one by wildcard) to three
 * receivers and everything else to the default, each checked at the receiver that got it.
 */
describe('per-domain routes', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const sink = async (): Promise<Sink> => {
    const started = await startSink();
    cleanups.push(() => started.stop());
    return started;
  };
  const to = (s: Sink) => ({ type: 'smarthost', host: '127.0.0.1', port: s.port, tls: 'none' });
  const recipientsAt = async (s: Sink, count: number): Promise<string[]> => {
    const got = await s.waitFor((m) => m.text.includes('hello'), `messages at sink ${String(s.port)}`, count);
    return got.flatMap((m) => m.rcptArgs.map((args) => /<([^>]*)>/.exec(args)?.[1] ?? args)).sort();
  };

  it('sends each recipient by the first matching route, the rest by the default', async () => {
    const [one, two, three, fallback] = [await sink(), await sink(), await sink(), await sink()];
    const { relay, close } = await startRelay(to(fallback), {
      delivery: {
        routes: [
          { domains: ['one.test'], route: to(one) },
          { domains: ['two.test', '*.two.test'], route: to(two) },
          { domains: ['three.test', 'one.test'], route: to(three) }, // one.test matched above: first wins
        ],
      },
    });
    cleanups.push(close);
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'sender@relay.test',
      to: [
        'a@one.test',
        'b@two.test',
        'c@deep.sub.two.test',
        'd@three.test',
        'e@four.test',
        'f@one.test.example',
      ].map((address) => ({ address })),
      message: Buffer.from('Subject: routes\r\n\r\nhello\r\n'),
    });
    expect(await recipientsAt(one, 1)).toEqual(['a@one.test']);
    expect(await recipientsAt(two, 1)).toEqual(['b@two.test', 'c@deep.sub.two.test']);
    expect(await recipientsAt(three, 1)).toEqual(['d@three.test']);
    expect(await recipientsAt(fallback, 1)).toEqual(['e@four.test', 'f@one.test.example']);
  });
});
