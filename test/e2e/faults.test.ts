import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';
import { SmtpProbe, sendMessage } from '../helpers/smtp-probe.js';

const message = { from: 'app@example.com', to: 'user@example.org', subject: 'Fault test', text: 'body' };

function send(mail: Mailwharf, overrides: Partial<typeof message> = {}) {
  return nodemailer
    .createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 })
    .sendMail({ ...message, ...overrides });
}

async function greeted(mail: Mailwharf): Promise<SmtpProbe> {
  const probe = await SmtpProbe.connect(mail.ports.smtp ?? 0);
  await probe.read();
  await probe.command('EHLO faults.test');
  return probe;
}

describe('fault injection', () => {
  it('connect: the greeting is replaced by the reply and the connection closed', async () => {
    await using mail = await startMailwharf({
      faults: [{ stage: 'connect', reply: { code: 421, enhanced: '4.3.2', text: 'Maintenance' } }],
    });
    const probe = await SmtpProbe.connect(mail.ports.smtp ?? 0);
    expect((await probe.read()).last).toBe('421 4.3.2 Maintenance');
    await probe.closedByServer();
  });

  it('ehlo: EHLO gets the reply', async () => {
    await using mail = await startMailwharf({
      faults: [{ stage: 'ehlo', reply: { code: 554, enhanced: '5.7.1', text: 'Go away' } }],
    });
    const probe = await SmtpProbe.connect(mail.ports.smtp ?? 0);
    await probe.read();
    expect((await probe.command('EHLO faults.test')).last).toBe('554 5.7.1 Go away');
    probe.close();
  });

  it('auth: AUTH gets the reply even with good credentials', async () => {
    await using mail = await startMailwharf({
      faults: [{ stage: 'auth', reply: { code: 454, enhanced: '4.7.0', text: 'Auth backend down' } }],
    });
    const attempt = nodemailer
      .createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0, auth: { user: 'u', pass: 'p' } })
      .sendMail(message);
    await expect(attempt).rejects.toThrow(/454 4\.7\.0 Auth backend down/);
  });

  it('mail: only senders that match the pattern are refused', async () => {
    await using mail = await startMailwharf({
      faults: [
        {
          stage: 'mail',
          sender: /^blocked@/,
          reply: { code: 550, enhanced: '5.7.1', text: 'Sender blocked' },
        },
      ],
    });
    await expect(send(mail, { from: 'blocked@example.com' })).rejects.toThrow(/550 5\.7\.1 Sender blocked/);
    await send(mail, { from: 'fine@example.com', subject: 'allowed' });
    await mail.waitForMessage({ subject: 'allowed' });
  });

  it('rcpt: one recipient is rejected, the others accepted', async () => {
    await using mail = await startMailwharf({
      faults: [
        {
          stage: 'rcpt',
          recipient: 'bounce@',
          reply: { code: 550, enhanced: '5.1.1', text: 'No such user' },
        },
      ],
    });
    const probe = await greeted(mail);
    await probe.command('MAIL FROM:<a@example.com>');
    expect((await probe.command('RCPT TO:<ok@example.org>')).last).toBe('250 2.1.5 Accepted');
    expect((await probe.command('RCPT TO:<bounce@example.org>')).last).toBe('550 5.1.1 No such user');
    await probe.command('DATA');
    probe.write('Subject: partial\r\n\r\nx\r\n.\r\n');
    expect((await probe.read()).code).toBe(250);
    const stored = await mail.waitForMessage({ subject: 'partial' });
    expect(stored.envelope.rcptTo.map((r) => r.address)).toEqual(['ok@example.org']);
    probe.close();
  });

  it('data: the message is refused after DATA and nothing is kept', async () => {
    await using mail = await startMailwharf({
      faults: [{ stage: 'data', reply: { code: 451, enhanced: '4.3.0', text: 'Try later' } }],
    });
    const probe = await greeted(mail);
    const reply = await sendMessage(probe, 'a@example.com', ['b@example.org'], 'Subject: refused\r\n\r\nx');
    expect(reply.last).toBe('451 4.3.0 Try later');
    expect(await mail.server.spool.list()).toEqual([]);
    // The session goes on: the next transaction is answered normally.
    expect((await probe.command('RSET')).code).toBe(250);
    probe.close();
  });

  it('after-data: the message is stored but the acknowledgement is lost (the client will retry)', async () => {
    await using mail = await startMailwharf({
      faults: [{ stage: 'after-data', reply: { code: 451, enhanced: '4.4.2', text: 'Lost ack' } }],
    });
    await expect(send(mail, { subject: 'stored anyway' })).rejects.toThrow(/451 4\.4\.2 Lost ack/);
    expect((await mail.waitForMessage({ subject: 'stored anyway' })).subject).toBe('stored anyway');
  });

  it('delay: the reply comes after the delay', async () => {
    await using mail = await startMailwharf({ faults: [{ stage: 'mail', delayMs: 400 }] });
    const probe = await greeted(mail);
    const started = Date.now();
    expect((await probe.command('MAIL FROM:<a@example.com>')).code).toBe(250);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    probe.close();
  });

  it('drop: the connection is closed without a reply', async () => {
    await using mail = await startMailwharf({ faults: [{ stage: 'rcpt', drop: true }] });
    const probe = await greeted(mail);
    await probe.command('MAIL FROM:<a@example.com>');
    probe.write('RCPT TO:<b@example.org>\r\n');
    await probe.closedByServer();
    await expect(probe.read(100)).rejects.toThrow(/connection closed/);
  });

  it('count: fail the first 2 attempts, then accept — driven by a retrying client', async () => {
    await using mail = await startMailwharf();
    mail.faults.add({ stage: 'data', count: 2, reply: { code: 451, enhanced: '4.3.0', text: 'Flaky' } });
    const attempts: string[] = [];
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        await send(mail, { subject: 'eventually' });
        attempts.push('ok');
        break;
      } catch (error) {
        attempts.push((error as Error & { response?: string }).response ?? 'error');
      }
    }
    expect(attempts).toEqual(['451 4.3.0 Flaky', '451 4.3.0 Flaky', 'ok']);
    await mail.waitForMessage({ subject: 'eventually' });
    expect(mail.messages({ subject: 'eventually' })).toHaveLength(1);
  });

  it('probability: 0 never fires, 1 always fires', async () => {
    await using mail = await startMailwharf();
    mail.faults.add({ stage: 'mail', sender: 'never@', probability: 0, reply: { code: 550, text: 'x' } });
    mail.faults.add({
      stage: 'mail',
      sender: 'always@',
      probability: 1,
      reply: { code: 550, text: 'Chaos' },
    });
    for (let i = 0; i < 5; i++) {
      await send(mail, { from: 'never@example.com' });
      await expect(send(mail, { from: 'always@example.com' })).rejects.toThrow(/550 5\.0\.0 Chaos/);
    }
  });

  it('faults.clear() removes every rule at runtime', async () => {
    await using mail = await startMailwharf();
    mail.faults.add({ stage: 'mail', reply: { code: 550, enhanced: '5.7.1', text: 'Nope' } });
    await expect(send(mail)).rejects.toThrow(/Nope/);
    mail.faults.clear();
    await send(mail, { subject: 'after clear' });
    await mail.waitForMessage({ subject: 'after clear' });
  });

  it('an invalid rule is refused naming the field', async () => {
    await using mail = await startMailwharf();
    expect(() => mail.faults.add({ stage: 'mail', reply: { code: 250 } })).toThrow(
      /reply\.code: must be a 4xx or 5xx code/,
    );
    expect(() => mail.faults.add({ stage: 'mail', reply: { code: 550, enhanced: '4.1.1' } })).toThrow(
      /reply\.enhanced/,
    );
    expect(() => mail.faults.add({ stage: 'mail' })).toThrow(/one of reply, delayMs or drop/);
  });

  it('can be set in config, but only when enabled explicitly', async () => {
    const refused = await startMailwharf({
      config: { faults: { rules: [{ stage: 'mail', reply: { code: 550 } }] } },
    }).catch((e: unknown) => e);
    expect((refused as Error).message).toMatch(
      /^startMailwharf options: faults: rules are given but enabled is false/,
    );

    await using mail = await startMailwharf({
      config: {
        faults: {
          enabled: true,
          rules: [
            {
              stage: 'rcpt',
              recipient: '/^nobody@/',
              reply: { code: 550, enhanced: '5.1.1', text: 'Unknown' },
            },
          ],
        },
      },
    });
    await expect(send(mail, { to: 'nobody@example.org' })).rejects.toThrow(/550 5\.1\.1 Unknown/);
    await send(mail, { to: 'somebody@example.org', subject: 'fine' });
    await mail.waitForMessage({ subject: 'fine' });
  });

  it('can be set over HTTP when enabled: POST, GET and DELETE /api/mailwharf/faults', async () => {
    await using mail = await startMailwharf({
      config: { http: { enabled: true, port: 0 }, faults: { enabled: true } },
    });
    const url = `http://127.0.0.1:${String(mail.server.http?.port())}/api/mailwharf/faults`;
    const bad = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ stage: 'mail', reply: { code: 250 } }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/^reply\.code: /);
    const added = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        stage: 'rcpt',
        recipient: '/^blocked@/',
        reply: { code: 550, enhanced: '5.1.1', text: 'Blocked over HTTP' },
      }),
    });
    expect(added.status).toBe(200);
    expect(((await added.json()) as { ID: number }).ID).toBeGreaterThan(0);
    expect(await (await fetch(url)).json()).toEqual([
      {
        stage: 'rcpt',
        recipient: '/^blocked@/',
        reply: { code: 550, enhanced: '5.1.1', text: 'Blocked over HTTP' },
      },
    ]);
    await expect(send(mail, { to: 'blocked@example.org' })).rejects.toThrow(/550 5\.1\.1 Blocked over HTTP/);
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(200);
    await send(mail, { to: 'blocked@example.org', subject: 'after http clear' });
    await mail.waitForMessage({ subject: 'after http clear' });
  });
});
