import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';

/**
 * info.RuntimeStats.SMTPRejected counts what the SMTP layer refused (MAIL and RCPT our stages
 * refuse, and messages refused after DATA), from the same calls that feed its metrics.
 */
describe('SMTPRejected in /api/v1/info', () => {
  let mail: Mailwharf;
  let base: string;

  beforeAll(async () => {
    mail = await startMailwharf({
      config: { http: { enabled: true, port: 0 }, policies: { plain: { limits: { maxMessageSize: 2000 } } } },
    });
    base = `http://127.0.0.1:${String(mail.server.http?.port())}`;
  });
  afterAll(async () => {
    await mail.stop();
  });

  const rejected = async () =>
    ((await (await fetch(`${base}/api/v1/info`)).json()) as { RuntimeStats: { SMTPRejected: number } })
      .RuntimeStats.SMTPRejected;
  const smtp = () => nodemailer.createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 });

  it('counts a message refused after DATA, not an accepted one', async () => {
    expect(await rejected()).toBe(0);

    // No SIZE= given: refused after DATA, once the body passes the limit.
    const tooBig = await smtp()
      .sendMail({ from: 'a@example.com', to: 'b@example.org', subject: 'big', text: 'x'.repeat(5000) })
      .catch((error: unknown) => error as { responseCode?: number });
    expect(tooBig).toMatchObject({ responseCode: 552 });
    expect(await rejected()).toBe(1);

    await smtp().sendMail({ from: 'a@example.com', to: 'b@example.org', subject: 'small', text: 'ok' });
    expect(await rejected()).toBe(1);
  });
});
