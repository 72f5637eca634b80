import { afterEach, describe, expect, it } from 'vitest';
import { submitCommand } from '../../src/delivery/control.js';
import type { MailwharfServer } from '../../src/index.js';
import { freePort } from '../helpers/external.js';
import { eventually, queuedStates, queueEmpty, startRelay, submit } from '../helpers/relay.js';
import { sendRaw } from '../helpers/smtp-sink.js';
import {
  startTranscriptReceiver,
  transactionsOf,
  type RefusalRule,
  type TranscriptReceiver,
} from '../helpers/smtp-transcript.js';

/**
 * RSET on a reused connection, read from the receiver's own record of the conversation.
 * After a transaction that ended with 250 to the data, the connection is at the start of a
 * new transaction (RFC 5321 §4.1.1.4): the next MAIL follows at once, as Postfix's does
 * (its smtp client sends RSET only to check a cached session, or to end a failed
 * transaction: smtp_rset_timeout). After a MAIL or RCPT refused with 4xx/5xx the server
 * may still hold a transaction, so RSET comes before the next MAIL (§4.1.1.5).
 *
 * Every message is queued first (the receiver is not listening yet, so each is deferred
 * once), then released together with a flush over one connection (concurrency 1): each
 * next message is waiting for the connection when the last one gives it back.
 */
describe('relay connection reuse: RSET only after a failed transaction', { timeout: 120_000 }, () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function queued(count: number) {
    const port = await freePort();
    const started = await startRelay(
      { type: 'smarthost', host: '127.0.0.1', port, tls: 'none' },
      {
        retry: { firstRetrySeconds: 3600, maxRetrySeconds: 3600 },
        delivery: { concurrency: { total: 1, perDestination: 1 } },
      },
    );
    cleanups.push(started.close);
    const { relay } = started;
    for (let i = 1; i <= count; i++)
      await submit(relay, {
        from: 'sender@relay.test',
        to: 'user@example.org',
        subject: `reuse ${String(i)}`,
      });
    await eventually(
      async () => ((await attemptsOfEach(relay)).filter((n) => n === 1).length === count ? true : undefined),
      `${String(count)} messages deferred once`,
    );
    return { relay, port };
  }

  async function queuedThenReleased(count: number, refuse?: RefusalRule) {
    const { relay, port } = await queued(count);
    const receiver = await startTranscriptReceiver(port, refuse);
    cleanups.push(() => receiver.stop());
    await submitCommand(relay.spool, { op: 'flush', ids: [] });
    return { relay, receiver };
  }

  /** The delivery attempts of each queued message. */
  async function attemptsOfEach(relay: MailwharfServer): Promise<number[]> {
    return (await queuedStates(relay)).map(({ state }) => state?.attempts ?? 0);
  }

  function onlyConversation(receiver: TranscriptReceiver): string[] {
    const sessions = receiver.sessions();
    expect(sessions).toHaveLength(1);
    return sessions[0] ?? [];
  }

  it('after a 250 to the data, the next MAIL FROM follows without RSET', async () => {
    const { relay, receiver } = await queuedThenReleased(5);
    await queueEmpty(relay);
    const conversation = onlyConversation(receiver);
    expect(conversation.filter((line) => /^C: RSET$/i.test(line))).toEqual([]);
    expect(transactionsOf(conversation)).toEqual(Array(5).fill({ rsetBefore: false, delivered: true }));
  });

  it('after MAIL or RCPT refused with 4xx or 5xx, RSET comes before the next MAIL FROM', async () => {
    // Transactions 2, 4, 6 and 8 on the connection are refused, each a different way; every
    // one is followed by another, whichever message it carries.
    const refusals = new Map([
      [2, { command: 'MAIL', code: 451, text: 'Try again later' }],
      [4, { command: 'RCPT', code: 450, text: 'Mailbox busy' }],
      [6, { command: 'MAIL', code: 550, text: 'Sender refused' }],
      [8, { command: 'RCPT', code: 550, text: 'No such user' }],
    ]);
    const { relay, receiver } = await queuedThenReleased(10, (transaction, command) => {
      const refusal = refusals.get(transaction);
      return refusal?.command === command ? refusal : undefined;
    });
    // The two 4xx-refused messages wait for their retry; the others went (two refused with
    // 5xx bounced, and their DSNs went the same way, one of them maybe refused in turn).
    await eventually(async () => {
      const attempts = await attemptsOfEach(relay);
      return attempts.length === 2 && attempts.every((n) => n === 2) ? true : undefined;
    }, 'every message tried after the flush, the two deferred ones left');
    const transactions = transactionsOf(onlyConversation(receiver));
    expect(transactions.slice(0, 10)).toEqual([
      { rsetBefore: false, delivered: true },
      { rsetBefore: false, delivered: false }, // MAIL 451
      { rsetBefore: true, delivered: true },
      { rsetBefore: false, delivered: false }, // RCPT 450
      { rsetBefore: true, delivered: true },
      { rsetBefore: false, delivered: false }, // MAIL 550
      { rsetBefore: true, delivered: true },
      { rsetBefore: false, delivered: false }, // RCPT 550
      { rsetBefore: true, delivered: true },
      { rsetBefore: false, delivered: true },
    ]);
    // The DSNs after them follow the same rule.
    transactions.forEach((transaction, i) => {
      if (i > 0) expect(transaction.rsetBefore).toBe(!transactions[i - 1]?.delivered);
    });
  });

  it('SMTPUTF8 declared for one message is not carried over to the next on the same connection', async () => {
    const { relay, port } = await queued(2);
    // A third message needs SMTPUTF8 for its header alone (its addresses are ASCII).
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'sender@relay.test',
      fromArgs: 'SMTPUTF8',
      to: [{ address: 'user@example.org' }],
      message: Buffer.from('Subject: Grüße\r\nFrom: sender@relay.test\r\n\r\nbody\r\n', 'utf8'),
    });
    await eventually(
      async () => ((await attemptsOfEach(relay)).filter((n) => n === 1).length === 3 ? true : undefined),
      'three messages deferred once',
    );
    const envelopes = await relay.spool.list();
    const utf8 = envelopes.filter((e) => e.smtputf8).map((e) => e.id);
    const ascii = envelopes.filter((e) => !e.smtputf8).map((e) => e.id);
    expect([utf8.length, ascii.length]).toEqual([1, 2]);
    const receiver = await startTranscriptReceiver(port);
    cleanups.push(() => receiver.stop());
    // The UTF-8 message first, then the two others on the connection it leaves idle.
    await submitCommand(relay.spool, { op: 'flush', ids: utf8 });
    await eventually(
      async () => ((await relay.spool.list()).length === 2 ? true : undefined),
      'the first sent',
    );
    await submitCommand(relay.spool, { op: 'flush', ids: ascii });
    await queueEmpty(relay);
    const mails = onlyConversation(receiver).filter((line) => line.startsWith('C: MAIL FROM:'));
    expect(mails.map((line) => / SMTPUTF8\b/.test(line))).toEqual([true, false, false]);
  });
});
