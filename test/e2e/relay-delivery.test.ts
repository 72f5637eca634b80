import { storedText } from '../helpers/stored.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Resolver } from '../../src/delivery/routes.js';
import { startMailwharf, type Mailwharf } from '../../src/index.js';
import { firstState, mxOnly, queueEmpty, startRelay, submit } from '../helpers/relay.js';

describe('relay delivery', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });
  async function smarthost(): Promise<Mailwharf> {
    const mail = await startMailwharf();
    cleanups.push(() => mail.stop());
    return mail;
  }
  async function relayTo(route: Record<string, unknown>, options?: Parameters<typeof startRelay>[1]) {
    const started = await startRelay(route, options);
    cleanups.push(started.close);
    return started.relay;
  }

  it('delivers to a smarthost (another mailwharf) and forgets the message', async () => {
    const upstream = await smarthost();
    const relay = await relayTo({
      type: 'smarthost',
      host: '127.0.0.1',
      port: upstream.ports.smtp,
      tls: 'none',
    });
    await submit(relay, { from: 'app@relay.test', to: 'user@example.org', subject: 'Relayed' });
    const arrived = await upstream.waitForMessage({ subject: 'Relayed' }, { timeout: 10_000 });
    expect(arrived.envelope.mailFrom).toBe('app@relay.test');
    expect(arrived.envelope.rcptTo.map((r) => r.address)).toEqual(['user@example.org']);
    // Two Received headers: the relay's, then the smarthost's on top.
    expect(arrived.parsed.headerLines.filter((h) => h.key === 'received')).toHaveLength(2);
    await queueEmpty(relay);
  });

  it('speaks STARTTLS with the certificate verified when the smarthost requires it', async () => {
    const upstream = await smarthost();
    const relay = await relayTo({
      type: 'smarthost',
      host: 'localhost',
      port: upstream.ports.submission,
      tls: 'starttls',
      auth: { user: 'relay@relay.test', pass: 'x' },
    });
    // The relay trusts the smarthost's self-signed CA only through caFile; without it, delivery must defer.
    await submit(relay, { from: 'app@relay.test', to: 'user@example.org', subject: 'Needs TLS' });
    const queued = await firstState(relay, (state) => state.attempts > 0, 'a first attempt');
    expect(queued.recipients[0]?.status).toBe('deferred');
    expect(queued.recipients[0]?.outcome?.text).toMatch(/certificate/i);
  });

  it('delivers over STARTTLS with AUTH once the smarthost CA is configured (caFile)', async () => {
    const upstream = await smarthost();
    const caFile = join(await mkdtemp(join(tmpdir(), 'mailwharf-ca-')), 'ca.pem');
    await writeFile(caFile, upstream.tls.ca);
    cleanups.push(() => rm(dirname(caFile), { recursive: true, force: true }));
    const relay = await relayTo({
      type: 'smarthost',
      host: 'localhost',
      port: upstream.ports.submission,
      tls: 'starttls',
      auth: { user: 'relay@relay.test', pass: 'x' },
      caFile,
    });
    await submit(relay, { from: 'app@relay.test', to: 'user@example.org', subject: 'Over TLS' });
    const arrived = await upstream.waitForMessage({ subject: 'Over TLS' }, { timeout: 10_000 });
    expect(arrived.envelope.authUser).toBe('relay@relay.test');
    expect(arrived.envelope.tls?.version).toMatch(/^TLSv1\.[23]$/);
  });

  it('temporary failure: retried with backoff, then delivered', async () => {
    const upstream = await smarthost();
    upstream.faults.add({
      stage: 'rcpt',
      count: 2,
      reply: { code: 451, enhanced: '4.3.0', text: 'Greylisted' },
    });
    const relay = await relayTo({
      type: 'smarthost',
      host: '127.0.0.1',
      port: upstream.ports.smtp,
      tls: 'none',
    });
    await submit(relay, { from: 'app@relay.test', to: 'user@example.org', subject: 'Eventually' });
    await upstream.waitForMessage({ subject: 'Eventually' }, { timeout: 10_000 });
    expect(upstream.messages({ subject: 'Eventually' })).toHaveLength(1);
  });

  it('permanent failure: one DSN to the sender, and the good recipient is delivered', async () => {
    const upstream = await smarthost();
    upstream.faults.add({
      stage: 'rcpt',
      recipient: 'nobody@',
      reply: { code: 550, enhanced: '5.1.1', text: 'No such user here' },
    });
    const relay = await relayTo({
      type: 'smarthost',
      host: '127.0.0.1',
      port: upstream.ports.smtp,
      tls: 'none',
    });
    await submit(relay, {
      from: 'app@relay.test',
      to: ['nobody@example.org', 'user@example.org'],
      subject: 'Half bounces',
    });
    await upstream.waitForMessage({ subject: 'Half bounces' }, { timeout: 10_000 });
    const dsn = await upstream.waitForMessage(
      { sender: /^$/, recipient: 'app@relay.test' },
      { timeout: 10_000 },
    );
    expect(dsn.envelope.mailFrom).toBe('');
    expect(dsn.subject).toBe('Undelivered Mail Returned to Sender');
    expect(dsn.parsed.headers.get('content-type')).toMatchObject({
      value: 'multipart/report',
      params: { 'report-type': 'delivery-status' },
    });
    // mailparser folds message/delivery-status into the text, so read that part from the raw DSN.
    const raw = await storedText(upstream.server.spool, dsn.id, 'utf8');
    const status = /Content-Type: message\/delivery-status\r\n\r\n([\s\S]*?)\r\n--/.exec(raw)?.[1];
    expect(status).toMatch(/^Reporting-MTA: dns; relay\.test$/m);
    expect(status).toMatch(/^Final-Recipient: rfc822; nobody@example\.org$/m);
    expect(status).toMatch(/^Action: failed$/m);
    expect(status).toMatch(/^Status: 5\.1\.1$/m);
    expect(status).toMatch(/^Diagnostic-Code: smtp; 550 5\.1\.1 No such user here$/m);
    expect(status).not.toMatch(/user@example\.org/);
    const headers = dsn.parsed.attachments
      .find((a) => a.contentType === 'text/rfc822-headers')
      ?.content.toString();
    expect(headers).toMatch(/^Subject: Half bounces$/m);
    await queueEmpty(relay);
    // Exactly one DSN.
    expect(upstream.messages({ sender: /^$/ })).toHaveLength(1);
  });

  it('a failing message from the null sender is dropped without a DSN', async () => {
    const upstream = await smarthost();
    upstream.faults.add({ stage: 'rcpt', reply: { code: 550, enhanced: '5.1.1', text: 'No such user' } });
    const relay = await relayTo({
      type: 'smarthost',
      host: '127.0.0.1',
      port: upstream.ports.smtp,
      tls: 'none',
    });
    await submit(relay, {
      from: 'x@relay.test',
      to: 'nobody@example.org',
      subject: 'From null',
      envelope: { from: '', to: ['nobody@example.org'] },
    });
    await queueEmpty(relay);
    expect(upstream.messages()).toEqual([]);
  });

  it('destination down: deferred, attempts and next attempt recorded, delivered once it is up', async () => {
    const upstream = await smarthost();
    const port = upstream.ports.smtp ?? 0;
    await upstream.stop();
    const relay = await relayTo({ type: 'smarthost', host: '127.0.0.1', port, tls: 'none' });
    await submit(relay, { from: 'app@relay.test', to: 'user@example.org', subject: 'Waits' });
    const state = await firstState(relay, (s) => s.attempts >= 2, 'two failed attempts');
    expect(state.recipients[0]?.status).toBe('deferred');
    expect(state.recipients[0]?.outcome).toMatchObject({ enhanced: '4.4.1', permanent: false });
    expect(state.recipients[0]?.outcome?.text).toMatch(
      /^connection failed: 127\.0\.0\.1:\d+: .*ECONNREFUSED/,
    );
    expect(Date.parse(state.nextAttemptAt)).toBeGreaterThan(Date.now() - 1000);
  });

  it('delay warning: once a message has waited long enough, the sender hears it is still retried', async () => {
    const upstream = await smarthost();
    upstream.faults.add({
      stage: 'rcpt',
      recipient: 'slow@',
      reply: { code: 451, enhanced: '4.2.0', text: 'Mailbox busy' },
    });
    // delayWarningSeconds is tiny here so the test does not wait hours.
    const warned = await relayTo(
      { type: 'smarthost', host: '127.0.0.1', port: upstream.ports.smtp, tls: 'none' },
      { retry: { firstRetrySeconds: 0.3, maxRetrySeconds: 0.3 }, delivery: { delayWarningSeconds: 0.5 } },
    );
    await submit(warned, { from: 'sender@relay.test', to: 'slow@example.org', subject: 'Slow one' });
    const notice = await upstream.waitForMessage({ recipient: 'sender@relay.test' }, { timeout: 10_000 });
    expect(notice.envelope.mailFrom).toBe('');
    expect(notice.subject).toBe('Delayed Mail (still being retried)');
    const raw = await storedText(upstream.server.spool, notice.id, 'utf8');
    expect(raw).toMatch(/^Action: delayed\r$/m);
    expect(raw).toMatch(/^Status: 4\.2\.0\r$/m);
    expect(raw).toMatch(/^Will-Retry-Until: /m);
    // Only one warning, however many retries follow.
    const state = await firstState(warned, (s) => s.attempts >= 4, 'more retries');
    expect(state.recipients[0]?.warned).toBe(true);
    expect(upstream.messages({ recipient: 'sender@relay.test' })).toHaveLength(1);
  });

  it('MX route: resolved through an injected resolver, preference order, fallback to the next MX', async () => {
    const upstream = await smarthost();
    const lookups: string[] = [];
    const resolver: Resolver = mxOnly((domain) => {
      lookups.push(domain);
      // The preferred MX (127.0.0.3: nothing listens there) refuses; the next one answers.
      return Promise.resolve([
        { exchange: '127.0.0.1', priority: 20 },
        { exchange: '127.0.0.3', priority: 10 },
      ]);
    });
    const relay = await relayTo(
      { type: 'mx', port: upstream.ports.smtp, tls: 'opportunistic' },
      { resolver },
    );
    await submit(relay, { from: 'app@relay.test', to: 'user@mx-routed.example', subject: 'Via MX' });
    const arrived = await upstream.waitForMessage({ subject: 'Via MX' }, { timeout: 10_000 });
    expect(arrived.envelope.rcptTo.map((r) => r.address)).toEqual(['user@mx-routed.example']);
    expect(lookups).toContain('mx-routed.example');
  });
});
