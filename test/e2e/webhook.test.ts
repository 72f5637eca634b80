import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';

interface Hook {
  readonly server: Server;
  readonly url: string;
  /** Each request as it arrives: its body, and how it was answered (or held). */
  readonly received: { body: string; response: ServerResponse }[];
  arrival(count: number): Promise<void>;
}

async function startHook(answer: (index: number, response: ServerResponse) => void): Promise<Hook> {
  const received: Hook['received'] = [];
  const waiters: (() => void)[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.once('end', () => {
      received.push({ body, response });
      answer(received.length - 1, response);
      for (const wake of waiters.splice(0)) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/hook`,
    received,
    async arrival(count) {
      const deadline = Date.now() + 15_000;
      while (received.length < count) {
        if (Date.now() > deadline)
          throw new Error(`${String(count)} webhook calls expected, got ${String(received.length)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, deadline - Date.now()).unref();
        });
      }
    },
  };
}

describe('http.webhook', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(hook: Hook): Promise<Mailwharf> {
    const mail = await startMailwharf({ config: { http: { enabled: true, port: 0, webhook: hook.url } } });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          hook.server.closeAllConnections();
          hook.server.close(() => resolve());
        }),
      () => mail.stop(),
    );
    return mail;
  }

  it("POSTs Mailpit's message summary, and tries again after a failure", async () => {
    const hook = await startHook((index, response) => response.writeHead(index === 0 ? 503 : 200).end());
    const mail = await start(hook);
    await nodemailer.createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 }).sendMail({
      from: 'Shop <orders@shop.example>',
      to: 'dev@example.org',
      subject: 'Hooked',
      text: 'Your order shipped',
    });
    await hook.arrival(2);
    const [first, second] = hook.received.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(second).toEqual(first);
    expect(first).toMatchObject({
      Subject: 'Hooked',
      From: { Name: 'Shop', Address: 'orders@shop.example' },
      To: [{ Name: '', Address: 'dev@example.org' }],
      Snippet: 'Your order shipped',
      Read: false,
    });
    expect(first?.ID).toBe((await mail.waitForMessage({ subject: 'Hooked' })).id);
  });

  it('never holds up intake: a receiver that does not answer delays nothing', async () => {
    // Holds every request open and never answers.
    const hook = await startHook(() => undefined);
    const mail = await start(hook);
    const smtp = nodemailer.createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 });
    await smtp.sendMail({ from: 'a@example.com', to: 'dev@example.org', subject: 'First', text: '1' });
    await hook.arrival(1);
    // The first delivery is still waiting for an answer; the next message is accepted and listed.
    await smtp.sendMail({ from: 'a@example.com', to: 'dev@example.org', subject: 'Second', text: '2' });
    await mail.waitForMessage({ subject: 'Second' });
    await hook.arrival(2);
    expect(hook.received.every((r) => !r.response.headersSent)).toBe(true);
  });
});
