import { storedBytes } from '../helpers/stored.js';
import { randomBytes } from 'node:crypto';
import { format } from 'node:util';
import { simpleParser } from 'mailparser';
import nodemailer, { type SMTPTransportOptions } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/spool/envelope.js';
import { ALICE, startTestServer, type TestServer } from '../helpers/config.js';
import { QUEUED, queueIdOf } from '../helpers/queue-id.js';

/**
 * nodemailer, unmodified, as the client on every listener the production config has.
 * Certificate verification stays on throughout: the client is given the server's
 * self-signed certificate as its only CA, and the negative cases at the end prove that
 * the same client refuses the server when it is not.
 */

/** Bounded: a hung server fails the test instead of waiting for vitest's timeout. */
const TIMEOUTS = {
  connectionTimeout: 5_000,
  greetingTimeout: 5_000,
  socketTimeout: 10_000,
  dnsTimeout: 5_000,
};

interface Capture {
  /** Every command line nodemailer sent (transactionLog), e.g. "MAIL FROM:<a@b> BODY=8BITMIME". */
  readonly client: string[];
}

/** A bunyan-style logger that keeps the client's side of the dialogue. */
function captureLogger(capture: Capture): {
  debug: (entry: { tnx?: string }, message: string, ...args: unknown[]) => void;
} {
  return {
    debug(entry, message, ...args) {
      if (entry.tnx === 'client') capture.client.push(format(message, ...args));
    },
  };
}

interface Sent {
  readonly id: string;
  readonly envelope: Envelope;
  readonly stored: Buffer;
  readonly attachment: Buffer;
  readonly token: string;
  readonly messageId: string;
  readonly commands: readonly string[];
}

describe('nodemailer as the client on every listener', () => {
  let mw: TestServer;
  beforeAll(async () => {
    mw = await startTestServer();
  });
  afterAll(async () => {
    await mw.close();
  });

  /** Sends one message with a random binary attachment and returns what the spool holds for it. */
  async function send(options: SMTPTransportOptions, from: string, to: readonly string[]): Promise<Sent> {
    const capture: Capture = { client: [] };
    const transport = nodemailer.createTransport({
      ...TIMEOUTS,
      ...options,
      logger: captureLogger(capture),
      transactionLog: true,
    });
    const attachment = randomBytes(6000);
    const token = randomBytes(8).toString('hex');
    try {
      const info = await transport.sendMail({
        from,
        to: [...to],
        subject: `nodemailer ${token}`,
        text: `Hello from nodemailer, token ${token}.\n`,
        attachments: [
          { filename: 'payload.bin', content: attachment, contentType: 'application/octet-stream' },
        ],
      });
      expect(info.response).toMatch(QUEUED);
      expect(info.accepted).toEqual([...to]);
      expect(info.rejected).toEqual([]);
      const id = queueIdOf(info.response);
      const envelope = await mw.server.spool.envelope(id);
      if (!envelope) throw new Error(`queued as ${id} but the spool has no envelope for it`);
      const stored = await storedBytes(mw.server.spool, id);
      return { id, envelope, stored, attachment, token, messageId: info.messageId, commands: capture.client };
    } finally {
      transport.close();
    }
  }

  /** What every accepted message must satisfy, whichever listener took it. */
  async function expectStoredMessage(sent: Sent): Promise<void> {
    expect(sent.envelope.id).toBe(sent.id);
    expect(sent.envelope.size).toBe(sent.stored.length);
    expect(sent.stored.subarray(0, 'Received: '.length).toString()).toBe('Received: ');
    const parsed = await simpleParser(sent.stored);
    expect(parsed.subject).toBe(`nodemailer ${sent.token}`);
    expect(parsed.messageId).toBe(sent.messageId);
    expect(parsed.text).toContain(`token ${sent.token}.`);
    expect(parsed.attachments).toHaveLength(1);
    const [attachment] = parsed.attachments;
    expect(attachment?.filename).toBe('payload.bin');
    expect(attachment?.contentType).toBe('application/octet-stream');
    expect(attachment?.content.equals(sent.attachment)).toBe(true);
  }

  /** The header line naming the protocol, RFC 3848: ESMTP, +S for TLS, +A for AUTH. */
  function receivedProtocol(stored: Buffer): string | undefined {
    return /^\tby mx\.test \(mailwharf\) with (\S+) id /m.exec(stored.toString('latin1'))?.[1];
  }

  it('smtp (port 25 role, no auth): opportunistic STARTTLS with a verified certificate', async () => {
    const to = ['bob@local.test', 'carol@elsewhere.test'];
    const sent = await send(
      {
        host: '127.0.0.1',
        port: mw.port('smtp'),
        secure: false,
        // Certificate checked against the SAN 127.0.0.1; nodemailer uses STARTTLS when offered.
        tls: { ca: mw.ca },
      },
      'app@local.test',
      to,
    );
    await expectStoredMessage(sent);
    expect(sent.commands).toContain('STARTTLS');
    expect(sent.commands.some((line) => line.startsWith('AUTH'))).toBe(false);
    expect(sent.envelope.mailFrom).toBe('app@local.test');
    expect(sent.envelope.rcptTo.map((r) => r.address)).toEqual(to);
    expect(sent.envelope.listener).toEqual({ name: 'smtp', role: 'relay', port: mw.port('smtp') });
    expect(sent.envelope.authUser).toBeUndefined();
    expect(sent.envelope.tls?.version).toBe('TLSv1.3');
    expect(sent.envelope.tls?.cipher).toMatch(/^TLS_/);
    expect(sent.envelope.client.address).toBe('127.0.0.1');
    expect(receivedProtocol(sent.stored)).toBe('ESMTPS');
  });

  it('smtp (port 25 role, no auth): plaintext when the client does not use TLS', async () => {
    const to = ['bob@local.test'];
    const sent = await send(
      { host: '127.0.0.1', port: mw.port('smtp'), secure: false, ignoreTLS: true },
      'app@local.test',
      to,
    );
    await expectStoredMessage(sent);
    expect(sent.commands).not.toContain('STARTTLS');
    expect(sent.envelope.mailFrom).toBe('app@local.test');
    expect(sent.envelope.rcptTo.map((r) => r.address)).toEqual(to);
    expect(sent.envelope.listener.name).toBe('smtp');
    expect(sent.envelope.authUser).toBeUndefined();
    expect(sent.envelope.tls).toBeUndefined();
    expect(receivedProtocol(sent.stored)).toBe('ESMTP');
  });

  it.each([
    { listener: 'submission', method: 'PLAIN' },
    { listener: 'alt-submission', method: 'LOGIN' },
  ])(
    '$listener: STARTTLS required, certificate verified by name, AUTH $method',
    async ({ listener, method }) => {
      const to = ['bob@local.test', 'carol@elsewhere.test'];
      const sent = await send(
        {
          host: '127.0.0.1',
          port: mw.port(listener),
          secure: false,
          requireTLS: true,
          auth: { user: ALICE.username, pass: ALICE.password },
          authMethod: method,
          // The name checked is the SAN DNS:localhost, not the address connected to.
          tls: { ca: mw.ca, servername: 'localhost' },
        },
        ALICE.username,
        to,
      );
      await expectStoredMessage(sent);
      const starttls = sent.commands.indexOf('STARTTLS');
      const auth = sent.commands.findIndex((line) => line.startsWith(`AUTH ${method}`));
      expect(starttls).toBeGreaterThanOrEqual(0);
      expect(auth).toBeGreaterThan(starttls);
      expect(sent.envelope.mailFrom).toBe(ALICE.username);
      expect(sent.envelope.rcptTo.map((r) => r.address)).toEqual(to);
      expect(sent.envelope.listener).toEqual({ name: listener, role: 'submission', port: mw.port(listener) });
      expect(sent.envelope.authUser).toBe(ALICE.username);
      expect(sent.envelope.tls?.version).toBe('TLSv1.3');
      expect(sent.envelope.tls?.cipher).toMatch(/^TLS_/);
      expect(receivedProtocol(sent.stored)).toBe('ESMTPSA');
    },
  );

  it('submissions: implicit TLS (secure: true), certificate verified, AUTH', async () => {
    const to = ['bob@local.test'];
    const sent = await send(
      {
        host: '127.0.0.1',
        port: mw.port('submissions'),
        secure: true,
        auth: { user: ALICE.username, pass: ALICE.password },
        tls: { ca: mw.ca, servername: 'localhost' },
      },
      ALICE.username,
      to,
    );
    await expectStoredMessage(sent);
    expect(sent.commands).not.toContain('STARTTLS');
    expect(sent.commands.some((line) => line.startsWith('AUTH '))).toBe(true);
    expect(sent.envelope.mailFrom).toBe(ALICE.username);
    expect(sent.envelope.rcptTo.map((r) => r.address)).toEqual(to);
    expect(sent.envelope.listener).toEqual({
      name: 'submissions',
      role: 'submissions',
      port: mw.port('submissions'),
    });
    expect(sent.envelope.authUser).toBe(ALICE.username);
    expect(sent.envelope.tls?.version).toBe('TLSv1.3');
    expect(receivedProtocol(sent.stored)).toBe('ESMTPSA');
  });

  describe('certificate verification is really on (the same client, refused)', () => {
    const auth = { user: ALICE.username, pass: ALICE.password };

    async function expectRefused(options: SMTPTransportOptions, pattern: RegExp): Promise<void> {
      const before = (await mw.server.spool.list()).length;
      const transport = nodemailer.createTransport({ ...TIMEOUTS, ...options });
      try {
        await expect(
          transport.sendMail({ from: ALICE.username, to: 'bob@local.test', subject: 'never', text: 'never' }),
        ).rejects.toThrow(pattern);
      } finally {
        transport.close();
      }
      expect((await mw.server.spool.list()).length).toBe(before);
    }

    it('submission without the CA: self-signed certificate refused', async () => {
      await expectRefused(
        {
          host: '127.0.0.1',
          port: mw.port('submission'),
          requireTLS: true,
          auth,
          tls: { servername: 'localhost' },
        },
        /self[- ]signed certificate/i,
      );
    });

    it('submission with the CA but the wrong name: host name check refuses', async () => {
      await expectRefused(
        {
          host: '127.0.0.1',
          port: mw.port('submission'),
          requireTLS: true,
          auth,
          tls: { ca: mw.ca, servername: 'evil.test' },
        },
        /Hostname\/IP does not match certificate's altnames/,
      );
    });

    it('submissions without the CA: self-signed certificate refused', async () => {
      await expectRefused(
        {
          host: '127.0.0.1',
          port: mw.port('submissions'),
          secure: true,
          auth,
          tls: { servername: 'localhost' },
        },
        /self[- ]signed certificate/i,
      );
    });

    it('smtp (port 25 role) with requireTLS and no CA: refused rather than falling back to plaintext', async () => {
      await expectRefused(
        { host: '127.0.0.1', port: mw.port('smtp'), requireTLS: true },
        /self[- ]signed certificate/i,
      );
    });
  });
});
