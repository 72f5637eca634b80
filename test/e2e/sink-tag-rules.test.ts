import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';
import { openEvents } from '../helpers/events.js';
import { queueIdOf } from '../helpers/queue-id.js';

/**
 * Tags applied at intake, as Mailpit applies them: tag rules (its --tag / --tags-config
 * filters: a search and the tags it adds), the SMTP AUTH user (--tags-username), plus
 * addresses and X-Tags. They are part of the index row written before the 250, so the client
 * holding its reply finds them in the list, the message, a `tag:` search, the `new` frame of
 * the events stream and the info counts, with no wait. (On the old code the config keys did
 * not exist and only X-Tags became tags.)
 */
interface Frame {
  readonly Type: string;
  readonly Data: { readonly ID?: string; readonly Tags?: readonly string[] };
}

describe('tag rules, AUTH user and plus addresses at intake', () => {
  let mail: Mailwharf;
  let base: string;

  beforeAll(async () => {
    mail = await startMailwharf({
      config: {
        http: { enabled: true, port: 0 },
        sink: {
          tagUsername: true,
          tagRules: [
            { match: 'subject:invoice', tags: ['billing'] },
            { match: 'from:shop@example.com', tags: ['shop'] },
            { match: '"order number"', tags: ['has-order'] },
            { match: 'tag:vip', tags: ['priority'] },
          ],
        },
      },
    });
    base = `http://127.0.0.1:${String(mail.server.http?.port())}`;
  });
  afterAll(async () => {
    await mail.stop();
  });

  const json = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${base}${path}`);
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  };

  it('every view has the tags the moment the 250 arrives', async () => {
    const { socket, frames } = await openEvents<Frame>(base);
    try {
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: mail.ports.smtp ?? 0,
        auth: { user: 'ci-bot', pass: 'any' },
      });
      const info = await transport.sendMail({
        from: 'shop@example.com',
        to: 'qa+run7@example.org',
        subject: 'Your invoice 42',
        text: 'Your order number is 7.',
        headers: { 'X-Tags': 'vip' },
      });
      transport.close();
      const id = queueIdOf(info.response);
      const expected = ['billing', 'ci-bot', 'has-order', 'priority', 'run7', 'shop', 'vip'];

      // Straight after the 250, with no wait: the message, the list, a tag: search, info.
      const message = await json<{ ID: string; Tags: string[] }>(`/api/v1/message/${id}`);
      expect(message.Tags).toEqual(expected);
      const list = await json<{ tags: string[]; messages: { ID: string; Tags: string[] }[] }>(
        '/api/v1/messages',
      );
      expect(list.messages.find((m) => m.ID === id)?.Tags).toEqual(expected);
      expect(list.tags).toEqual(expected);
      for (const tag of ['billing', 'ci-bot', 'priority', 'run7']) {
        const found = await json<{ messages: { ID: string }[] }>(
          `/api/v1/search?query=${encodeURIComponent(`tag:${tag}`)}`,
        );
        expect(
          found.messages.map((m) => m.ID),
          tag,
        ).toEqual([id]);
      }
      const counts = await json<{ Tags: Record<string, number> }>('/api/v1/info');
      expect(counts.Tags).toEqual(Object.fromEntries(expected.map((tag) => [tag, 1])));

      // The new frame was sent before the 250: it is here or on its way.
      await expect
        .poll(() => frames.find((f) => f.Type === 'new' && f.Data.ID === id)?.Data.Tags, { timeout: 10_000 })
        .toEqual(expected);
    } finally {
      socket.close();
    }
  });

  it('a message no rule matches gets no rule tags, and info counts per tag', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 });
    const info = await transport.sendMail({
      from: 'someone@example.com',
      to: 'dev@example.org',
      subject: 'Hello',
      text: 'Nothing to see.',
    });
    const second = await transport.sendMail({
      from: 'shop@example.com',
      to: 'dev@example.org',
      subject: 'Another invoice',
      text: 'x',
    });
    transport.close();
    const plain = await json<{ Tags: string[] }>(`/api/v1/message/${queueIdOf(info.response)}`);
    expect(plain.Tags).toEqual([]);
    const tagged = await json<{ Tags: string[] }>(`/api/v1/message/${queueIdOf(second.response)}`);
    expect(tagged.Tags).toEqual(['billing', 'shop']);
    const counts = await json<{ Tags: Record<string, number> }>('/api/v1/info');
    expect(counts.Tags).toMatchObject({ billing: 2, shop: 2, 'has-order': 1 });
  });

  it('a tag: rule in the config that the search parser refuses stops the start, naming the field', async () => {
    await expect(
      startMailwharf({ config: { sink: { tagRules: [{ match: 'is:starred', tags: ['star'] }] } } }),
    ).rejects.toThrow('sink.tagRules[0].match: unknown is:starred');
  });
});
