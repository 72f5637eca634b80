import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';

function transport(mail: Mailwharf, listener = 'smtp') {
  return nodemailer.createTransport({ host: '127.0.0.1', port: mail.ports[listener] ?? 0 });
}

describe('startMailwharf', () => {
  it('starts on ephemeral loopback ports and captures what a client sends', async () => {
    await using mail = await startMailwharf();
    expect(Object.keys(mail.ports).sort()).toEqual(['alt-submission', 'smtp', 'submission', 'submissions']);
    expect(mail.url()).toBe(`smtp://127.0.0.1:${String(mail.ports.smtp)}`);
    expect(mail.url('submissions')).toBe(`smtps://127.0.0.1:${String(mail.ports.submissions)}`);

    await transport(mail).sendMail({
      from: 'App <app@example.com>',
      to: 'user@example.org',
      subject: 'Welcome aboard',
      text: 'Your code is 123456',
    });
    const message = await mail.waitForMessage({ subject: 'welcome' });
    expect(message.subject).toBe('Welcome aboard');
    expect(message.from).toBe('app@example.com');
    expect(message.to).toEqual(['user@example.org']);
    expect(message.text).toContain('123456');
    expect(message.envelope.mailFrom).toBe('app@example.com');
    expect(message.envelope.state).toBe('captured');
  });

  it('filters by envelope, headers and text, with strings, RegExps or a predicate', async () => {
    await using mail = await startMailwharf();
    const t = transport(mail);
    await t.sendMail({ from: 'a@example.com', to: 'x@example.org', subject: 'First', text: 'alpha' });
    await t.sendMail({
      from: 'b@example.com',
      to: 'y@example.org',
      cc: 'z@example.org',
      subject: 'Second',
      text: 'beta',
    });
    await mail.waitForMessage({ subject: 'Second' });

    expect(mail.messages().map((m) => m.subject)).toEqual(['First', 'Second']);
    expect(mail.messages({ sender: 'b@' }).map((m) => m.subject)).toEqual(['Second']);
    expect(mail.messages({ recipient: /^x@/ }).map((m) => m.subject)).toEqual(['First']);
    expect(mail.messages({ to: 'z@example.org' }).map((m) => m.subject)).toEqual(['Second']);
    expect(mail.messages({ text: 'ALPHA' }).map((m) => m.subject)).toEqual(['First']);
    expect(mail.messages((m) => m.envelope.rcptTo.length === 2).map((m) => m.subject)).toEqual(['Second']);
    expect(mail.messages({ subject: 'Second', sender: 'a@' })).toEqual([]);
  });

  it('waitForMessage resolves with a message that arrives after the call', async () => {
    await using mail = await startMailwharf();
    const waiting = mail.waitForMessage({ subject: /later/i }, { timeout: 5000 });
    await transport(mail).sendMail({
      from: 'a@example.com',
      to: 'b@example.org',
      subject: 'Sent later',
      text: '.',
    });
    expect((await waiting).subject).toBe('Sent later');
  });

  it('waitForMessage times out with an error listing what did arrive', async () => {
    await using mail = await startMailwharf();
    await transport(mail).sendMail({
      from: 'a@example.com',
      to: 'b@example.org',
      subject: 'Not it',
      text: '.',
    });
    await mail.waitForMessage({ subject: 'Not it' });
    const error = await mail
      .waitForMessage({ subject: 'Never sent' }, { timeout: 200 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/no matching message within 200 ms/);
    expect((error as Error).message).toMatch(/from <a@example\.com> to <b@example\.org> subject "Not it"/);
  });

  it('clear() forgets every message and removes it from the spool', async () => {
    await using mail = await startMailwharf();
    await transport(mail).sendMail({ from: 'a@example.com', to: 'b@example.org', subject: 'One', text: '.' });
    await mail.waitForMessage({ subject: 'One' });
    await mail.clear();
    expect(mail.messages()).toEqual([]);
    expect(await mail.server.spool.list()).toEqual([]);
  });

  it('gives the CA so a client verifies the certificate on STARTTLS and implicit TLS', async () => {
    await using mail = await startMailwharf();
    const tls = { ca: mail.tls.ca, servername: 'localhost' };
    const auth = { user: 'dev@example.com', pass: 'anything' };
    await nodemailer
      .createTransport({ host: '127.0.0.1', port: mail.ports.submission ?? 0, requireTLS: true, auth, tls })
      .sendMail({ from: 'dev@example.com', to: 'b@example.org', subject: 'Over STARTTLS', text: '.' });
    await nodemailer
      .createTransport({ host: '127.0.0.1', port: mail.ports.submissions ?? 0, secure: true, auth, tls })
      .sendMail({ from: 'dev@example.com', to: 'b@example.org', subject: 'Over TLS', text: '.' });
    const starttls = await mail.waitForMessage({ subject: 'Over STARTTLS' });
    const implicit = await mail.waitForMessage({ subject: 'Over TLS' });
    expect(starttls.envelope.tls?.version).toMatch(/^TLSv1\.[23]$/);
    expect(implicit.envelope.authUser).toBe('dev@example.com');
  });

  it('takes config overrides through the same schema, with the same errors', async () => {
    const error = await startMailwharf({
      config: { policies: { plain: { limits: { maxRecipients: 0 } } } },
    }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /^startMailwharf options: policies\.plain\.limits\.maxRecipients: /,
    );

    await using mail = await startMailwharf({
      config: { policies: { plain: { limits: { maxMessageSize: 2000 } } } },
    });
    const sent = transport(mail).sendMail({
      from: 'a@example.com',
      to: 'b@example.org',
      text: 'x'.repeat(5000),
    });
    await expect(sent).rejects.toThrow(/552 5\.3\.4/);
  });

  it('stop() is graceful and idempotent', async () => {
    const mail = await startMailwharf();
    await Promise.all([mail.stop(), mail.stop()]);
    await mail.stop();
    await expect(
      transport(mail).sendMail({ from: 'a@example.com', to: 'b@example.org', text: '.' }),
    ).rejects.toThrow(/ECONNREFUSED/);
  });
});
