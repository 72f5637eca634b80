import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';
import { queueIdOf } from '../helpers/queue-id.js';

/**
 * Accepted means visible: the index row is written before the 250, so a client that has its
 * reply finds exactly that message, through the API and through the fixture, with no wait.
 * (On the old code the message was indexed after the reply: 39 of 40 lookups missed.)
 */
const CLIENTS = 20;
const PER_CLIENT = 250;

/** One SMTP connection per client, reused for each of its messages, as a busy app would. */
function clientTransport(port: number) {
  return nodemailer.createTransport({ host: '127.0.0.1', port, pool: true, maxConnections: 1 });
}

describe('read-your-writes: a message is visible the moment its 250 arrives', () => {
  let mail: Mailwharf;
  let base: string;

  beforeAll(async () => {
    mail = await startMailwharf({
      config: { http: { enabled: true, port: 0 }, sink: { retention: { maxMessages: 0 } } },
    });
    base = `http://127.0.0.1:${String(mail.server.http?.port())}`;
  });
  afterAll(async () => {
    await mail.stop();
  });

  it(`${String(CLIENTS * PER_CLIENT)} messages from ${String(CLIENTS)} clients: the API has each one after its 250`, async () => {
    await mail.clear();
    const misses: string[] = [];
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        const transport = clientTransport(mail.ports.smtp ?? 0);
        try {
          for (let n = 0; n < PER_CLIENT; n++) {
            const subject = `api ${String(client)}-${String(n)}`;
            const info = await transport.sendMail({
              from: `client${String(client)}@example.com`,
              to: 'sink@example.org',
              subject,
              text: `body ${subject}`,
            });
            const id = queueIdOf(info.response);
            const response = await fetch(`${base}/api/v1/message/${id}`);
            if (response.status !== 200) {
              misses.push(`${id}: ${String(response.status)}`);
              continue;
            }
            const message = (await response.json()) as { ID: string; Subject: string };
            if (message.ID !== id || message.Subject !== subject) misses.push(`${id}: ${message.Subject}`);
          }
        } finally {
          transport.close();
        }
      }),
    );
    expect(misses).toEqual([]);
    const list = (await (await fetch(`${base}/api/v1/messages?limit=1`)).json()) as { total: number };
    expect(list.total).toBe(CLIENTS * PER_CLIENT);
  }, 300_000);

  it(`${String(CLIENTS * PER_CLIENT)} messages from ${String(CLIENTS)} clients: the fixture's messages() has each one when sendMail resolves`, async () => {
    await mail.clear();
    const misses: string[] = [];
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        const transport = clientTransport(mail.ports.smtp ?? 0);
        try {
          for (let n = 0; n < PER_CLIENT; n++) {
            const subject = `fixture ${String(client)}-${String(n)}.`;
            const info = await transport.sendMail({
              from: 'app@example.com',
              to: `user${String(client)}@example.org`,
              subject,
              text: `body ${subject}`,
            });
            const found = mail.messages({ subject });
            if (found.length !== 1 || found[0]?.id !== queueIdOf(info.response)) {
              misses.push(`${subject}: ${String(found.length)}`);
            }
          }
        } finally {
          transport.close();
        }
      }),
    );
    expect(misses).toEqual([]);
    expect(mail.messages()).toHaveLength(CLIENTS * PER_CLIENT);
  }, 300_000);

  it('the events stream and /api/mailwharf/wait have the message when its 250 arrives', async () => {
    await mail.clear();
    const transport = clientTransport(mail.ports.smtp ?? 0);
    const seen: string[] = [];
    const unsubscribe = mail.server.sink?.on((event) => {
      if (event.type === 'new') seen.push(event.message.id);
    });
    try {
      for (let n = 0; n < 20; n++) {
        const info = await transport.sendMail({
          from: 'a@example.com',
          to: 'b@example.org',
          subject: `wait ${String(n)}`,
          text: `body word bw${String(n)}q`,
        });
        const id = queueIdOf(info.response);
        expect(seen).toContain(id);
        // The body's words too (their text is staged for the full-text table, and searched there).
        const byWord = await fetch(`${base}/api/mailwharf/wait?timeout=0&query=bw${String(n)}q`);
        expect(byWord.status).toBe(200);
        expect(((await byWord.json()) as { ID: string }).ID).toBe(id);
        // timeout=0: no waiting at all; it must be there already.
        const response = await fetch(
          `${base}/api/mailwharf/wait?timeout=0&query=${encodeURIComponent(`subject:"wait ${String(n)}"`)}`,
        );
        expect(response.status).toBe(200);
        expect(((await response.json()) as { ID: string }).ID).toBe(id);
      }
    } finally {
      unsubscribe?.();
      transport.close();
    }
  });
});
