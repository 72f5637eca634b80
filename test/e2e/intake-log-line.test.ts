import { Writable } from 'node:stream';
import nodemailer from 'nodemailer';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, startTestServer, type TestServer } from '../helpers/config.js';
import { eventually } from '../helpers/relay.js';

/**
 * The intake line (one per accepted message, keyed by queue id) names the AUTH user and the
 * TLS protocol and cipher, as Postfix's smtpd logs sasl_username and its TLS line; a plain,
 * unauthenticated message's line has neither.
 */
describe('the intake log line', () => {
  let mw: TestServer;
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n'))
          if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    mw = await startTestServer(undefined, { logger: pino({ level: 'info' }, sink) });
  });
  afterAll(async () => {
    await mw.close();
  });

  const queuedLine = (response: string) => {
    const id = /queued as ([0-9A-Z]{17})/.exec(response)?.[1];
    return eventually(
      () => lines.find((l) => l.msg === 'queued' && l.queueId === id),
      `the line of ${String(id)}`,
    );
  };

  it('after STARTTLS and AUTH: user, TLS version and cipher', async () => {
    const sent = await nodemailer
      .createTransport({
        host: '127.0.0.1',
        port: mw.port('submission'),
        requireTLS: true,
        tls: { ca: mw.ca, servername: 'localhost', minVersion: 'TLSv1.3' },
        auth: { user: ALICE.username, pass: ALICE.password },
      })
      .sendMail({ from: ALICE.username, to: 'bob@example.org', subject: 'Logged', text: 'x' });
    const line = await queuedLine(sent.response);
    expect(line).toMatchObject({ from: ALICE.username, rcpt: 1, user: ALICE.username, tls: 'TLSv1.3' });
    expect(line.cipher).toMatch(/^TLS_(AES|CHACHA20)_\w+$/);
  });

  it('over TLS 1.2 without AUTH: the TLS 1.2 version and its cipher, no user', async () => {
    const sent = await nodemailer
      .createTransport({
        host: '127.0.0.1',
        port: mw.port('smtp'),
        requireTLS: true,
        tls: { ca: mw.ca, servername: 'localhost', maxVersion: 'TLSv1.2' },
      })
      .sendMail({ from: 'app@local.test', to: 'someone@local.test', subject: 'TLS 1.2', text: 'x' });
    const line = await queuedLine(sent.response);
    expect(line).toMatchObject({ tls: 'TLSv1.2' });
    expect(line.cipher).toMatch(/^ECDHE-/);
    expect(line).not.toHaveProperty('user');
  });

  it('in the clear, unauthenticated: neither', async () => {
    const sent = await nodemailer
      .createTransport({ host: '127.0.0.1', port: mw.port('smtp'), ignoreTLS: true })
      .sendMail({ from: 'app@local.test', to: 'someone@local.test', subject: 'Plain', text: 'x' });
    const line = await queuedLine(sent.response);
    expect(line).toMatchObject({ from: 'app@local.test', rcpt: 1 });
    expect(line).not.toHaveProperty('user');
    expect(line).not.toHaveProperty('tls');
    expect(line).not.toHaveProperty('cipher');
  });
});
