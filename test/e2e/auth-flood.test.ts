import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCRYPT_QUEUE } from '../../src/auth/passwords.js';
import { renderReply, replies } from '../../src/smtp/replies.js';
import { ALICE, startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe } from '../helpers/smtp-probe.js';

const plain = (user: string, password: string): string =>
  Buffer.from(`\0${user}\0${password}`).toString('base64');

/**
 * scrypt runs one at a time and at most SCRYPT_QUEUE logins wait for it. A flood past that is
 * answered 454 4.7.0 at once (RFC 4954: try again later) instead of queueing without end, and
 * the server still takes a right password once the flood is over.
 */
describe('AUTH flood', () => {
  let mw: TestServer;
  const flood = SCRYPT_QUEUE + 8;

  beforeAll(async () => {
    mw = await startTestServer((raw) => {
      const policies = raw.policies as Record<string, unknown>;
      policies.plainauth = {
        auth: 'required',
        authRequiresTls: false,
        limits: { maxConnections: 500, maxConnectionsPerClient: 500, authFailuresBeforeDisconnect: 5 },
      };
      (raw.listeners as unknown[]).push({
        name: 'plainauth',
        role: 'submission',
        port: 0,
        host: '127.0.0.1',
        tls: 'none',
        policy: 'plainauth',
      });
    });
  });
  afterAll(async () => {
    await mw.close();
  });

  it(`${String(flood)} logins at once: the ones past the queue get 454 4.7.0, the rest 535; none waits forever`, async () => {
    const probes = await Promise.all(
      Array.from({ length: flood }, async () => {
        const probe = await SmtpProbe.connect(mw.port('plainauth'));
        await probe.read();
        await probe.command('EHLO flood.test');
        return probe;
      }),
    );
    const answers = await Promise.all(
      probes.map((probe) => probe.command(`AUTH PLAIN ${plain(ALICE.username, 'wrong')}`, 75_000)),
    );
    for (const probe of probes) probe.close();
    const busy = answers.filter((reply) => reply.code === 454);
    const refused = answers.filter((reply) => reply.code === 535);
    expect(busy.length + refused.length).toBe(flood);
    expect(busy.length).toBeGreaterThan(0);
    expect(busy[0]?.last).toBe(renderReply(replies.authTemporaryFailure));

    // From another address: 127.0.0.1 has just failed 72 times and waits out its throttle.
    const later = await SmtpProbe.connect(mw.port('plainauth'), { localAddress: '127.0.0.2' });
    await later.read();
    await later.command('EHLO later.test');
    expect((await later.command(`AUTH PLAIN ${plain(ALICE.username, ALICE.password)}`)).code).toBe(235);
    later.close();
  }, 120_000);
});
