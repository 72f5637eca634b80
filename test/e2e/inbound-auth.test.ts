import { generateKeyPairSync } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { Writable } from 'node:stream';
import nodemailer from 'nodemailer';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policy, startTestServer, type TestServer } from '../helpers/config.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { SmtpProbe } from '../helpers/smtp-probe.js';
import { storedText } from '../helpers/stored.js';

/**
 * Inbound authentication on the relay port (policy inboundAuth): real SMTP clients from
 * 127.0.0.x addresses (SPF depends on the client address) against the real server, whose
 * lookups go to a loopback DNS server this test starts; the Authentication-Results header is
 * checked in the spooled file, exactly, with Received-SPF (RFC 7208 §9.1) and then our
 * Received right after it.
 */

/** Listed by good.example's and soft.example's SPF records. */
const LISTED = '127.0.0.20';
/** Listed by nobody. */
const STRANGER = '127.0.0.21';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const dkimKey = {
  domainName: 'good.example',
  keySelector: 'sel1',
  privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
};

interface Sent {
  readonly from: string;
  readonly headerFrom: string;
  readonly client: string;
  readonly subject: string;
  readonly sign?: boolean;
  /** Changes the signed message (a body byte) before it is sent. */
  readonly tamper?: (message: string) => string;
  /** Extra header lines put on top of the message as the client sends it. */
  readonly prepend?: string;
  /** The body's text (default: one line). */
  readonly text?: string;
}

async function build(sent: Sent): Promise<string> {
  const built = await nodemailer
    .createTransport({
      streamTransport: true,
      buffer: true,
      newline: 'windows',
      ...(sent.sign === true ? { dkim: dkimKey } : {}),
    })
    .sendMail({
      from: sent.headerFrom,
      to: 'rcpt@local.test',
      subject: sent.subject,
      text: sent.text ?? 'The order ships tomorrow.\n',
    });
  if (!Buffer.isBuffer(built.message)) throw new Error('streamTransport with buffer: true gives a Buffer');
  const message = built.message.toString('latin1');
  return (sent.prepend ?? '') + (sent.tamper ? sent.tamper(message) : message);
}

/** Sends from `sent.client`; the 250's queue id, or the error's response line. */
async function send(mail: TestServer, sent: Sent): Promise<{ id?: string; response: string }> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: mail.port('smtp'),
    localAddress: sent.client,
    name: 'mta.good.example',
    ignoreTLS: true,
  });
  try {
    const info = await transport.sendMail({
      envelope: { from: sent.from, to: ['rcpt@local.test'] },
      raw: await build(sent),
    });
    const id = /queued as ([0-9A-Z]+)/.exec(info.response)?.[1];
    return { ...(id ? { id } : {}), response: info.response };
  } catch (error) {
    return { response: (error as { response?: string }).response ?? String(error) };
  } finally {
    transport.close();
  }
}

/** The trace fields on top of a stored message: Authentication-Results, Received-SPF, then our Received. */
async function traceOf(
  mail: TestServer,
  sent: { id?: string; response: string },
): Promise<{ results: string; receivedSpf: string }> {
  const id = sent.id;
  if (id === undefined) throw new Error(`not accepted: ${sent.response}`);
  const text = await storedText(mail.server.spool, id, 'latin1');
  const match = /^(Authentication-Results: [^]*?\r\n)(?![ \t])(Received-SPF: [^]*?\r\n)(?![ \t])([^]*)$/.exec(
    text,
  );
  expect(match?.[3]).toMatch(/^Received: from mta\.good\.example \(\[127\.0\.0\.2[01]\]\)/);
  return { results: match?.[1] ?? text.slice(0, 400), receivedSpf: match?.[2] ?? '' };
}

/** The Authentication-Results field on top of the stored message. */
async function resultsOf(mail: TestServer, sent: { id?: string; response: string }): Promise<string> {
  return (await traceOf(mail, sent)).results;
}

function header(...resinfos: string[]): string {
  return `Authentication-Results: mx.test;\r\n\t${resinfos.join(';\r\n\t')}\r\n`;
}

async function startServer(
  dns: { address: string },
  dmarc: 'record' | 'reject',
  timeoutSeconds = 5,
  logger: Logger = pino({ level: 'error' }),
  spf: 'record' | 'reject' = 'record',
): Promise<TestServer> {
  return startTestServer(
    (raw) => {
      policy(raw, 'relay').inboundAuth = { dmarc, spf };
      raw.delivery = { ...(raw.delivery as object), dns: { servers: [dns.address], timeoutSeconds } };
    },
    { logger },
  );
}

/** A logger that keeps its warnings, to read them back. */
function warningsLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: 'warn' }, sink), lines };
}

describe('inbound SPF, DKIM and DMARC on the relay port', () => {
  let dns: DnsServer;
  let recording: TestServer;
  let rejecting: TestServer;
  /** inboundAuth.spf: reject (and dmarc: record). */
  let spfRejecting: TestServer;
  const warnings = warningsLogger();

  beforeAll(async () => {
    const key = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    dns = await startDnsServer({
      'good.example': { TXT: [`v=spf1 ip4:${LISTED} -all`] },
      'sel1._domainkey.good.example': { TXT: [`v=DKIM1; k=rsa; p=${key}`] },
      '_dmarc.good.example': { TXT: ['v=DMARC1; p=reject'] },
      'soft.example': { TXT: [`v=spf1 ip4:${LISTED} ~all`] },
      'quiet.example': { TXT: ['v=spf1 -all'] },
      '_dmarc.quiet.example': { TXT: ['v=DMARC1; p=quarantine'] },
    });
    [recording, rejecting, spfRejecting] = await Promise.all([
      startServer(dns, 'record', 5, warnings.logger),
      startServer(dns, 'reject'),
      startServer(dns, 'record', 5, undefined, 'reject'),
    ]);
  });
  afterAll(async () => {
    await Promise.all([recording.close(), rejecting.close(), spfRejecting.close()]);
    await dns.close();
  });

  it('SPF pass, DKIM pass, DMARC pass: the client is listed and the signature verifies', async () => {
    const sent = await send(rejecting, {
      from: 'orders@good.example',
      headerFrom: 'orders@good.example',
      client: LISTED,
      subject: 'all pass',
      sign: true,
    });
    const trace = await traceOf(rejecting, sent);
    expect(trace.results).toBe(
      header(
        'spf=pass smtp.mailfrom=orders@good.example',
        'dkim=pass header.d=good.example header.s=sel1',
        'dmarc=pass (p=reject) header.from=good.example',
      ),
    );
    expect(trace.receivedSpf).toBe(
      'Received-SPF: pass (mx.test: domain of orders@good.example designates 127.0.0.20 as permitted sender)\r\n' +
        '\tclient-ip=127.0.0.20; envelope-from="orders@good.example"; helo=mta.good.example; receiver=mx.test; identity=mailfrom;\r\n',
    );
    expect(dns.queries).toContain('TXT sel1._domainkey.good.example');
  });

  it('SPF fail: a client the record does not list (-all), no DMARC record: accepted', async () => {
    dns.records.set('hard.example', { TXT: [`v=spf1 ip4:${LISTED} -all`] });
    const sent = await send(rejecting, {
      from: 'news@hard.example',
      headerFrom: 'news@hard.example',
      client: STRANGER,
      subject: 'spf fail',
    });
    const trace = await traceOf(rejecting, sent);
    expect(trace.results).toBe(
      header('spf=fail smtp.mailfrom=news@hard.example', 'dkim=none', 'dmarc=none header.from=hard.example'),
    );
    expect(trace.receivedSpf).toBe(
      'Received-SPF: fail (mx.test: domain of news@hard.example does not designate 127.0.0.21 as permitted sender)\r\n' +
        '\tclient-ip=127.0.0.21; envelope-from="news@hard.example"; helo=mta.good.example; receiver=mx.test; identity=mailfrom;\r\n',
    );
  });

  it('SPF is evaluated at MAIL FROM, while the client sends RCPT and DATA, and its result is used after DATA', async () => {
    dns.records.set('early.example', { TXT: [`v=spf1 ip4:${LISTED} -all`] });
    const probe = await SmtpProbe.connect(recording.port('smtp'), { localAddress: STRANGER });
    try {
      expect((await probe.read()).code).toBe(220);
      expect((await probe.command('EHLO mta.good.example')).code).toBe(250);
      expect((await probe.command('MAIL FROM:<news@early.example>')).code).toBe(250);
      expect((await probe.command('RCPT TO:<rcpt@local.test>')).code).toBe(250);
      // The sender's SPF record is asked for before the message is sent (on the old code only after DATA).
      await expect.poll(() => dns.queries, { timeout: 10_000 }).toContain('TXT early.example');
      expect((await probe.command('DATA')).code).toBe(354);
      const done = await probe.command(
        'From: news@early.example\r\nTo: rcpt@local.test\r\nSubject: early\r\n\r\nHello.\r\n.',
        15_000,
      );
      expect(done.code).toBe(250);
      const id = /queued as ([0-9A-Z]+)/.exec(done.last)?.[1];
      expect(await resultsOf(recording, { ...(id ? { id } : {}), response: done.last })).toBe(
        header(
          'spf=fail smtp.mailfrom=news@early.example',
          'dkim=none',
          'dmarc=none header.from=early.example',
        ),
      );
      // Evaluated once for the transaction: the record was not asked for again after DATA.
      expect(dns.queries.filter((query) => query === 'TXT early.example')).toHaveLength(1);
    } finally {
      probe.close();
    }
  });

  it('SPF softfail: a client the record does not list (~all)', async () => {
    const sent = await send(recording, {
      from: 'news@soft.example',
      headerFrom: 'news@soft.example',
      client: STRANGER,
      subject: 'spf softfail',
    });
    expect(await resultsOf(recording, sent)).toBe(
      header(
        'spf=softfail smtp.mailfrom=news@soft.example',
        'dkim=none',
        'dmarc=none header.from=soft.example',
      ),
    );
  });

  it('DKIM fail: a body byte changed after signing; DMARC still passes through aligned SPF', async () => {
    const sent = await send(rejecting, {
      from: 'orders@good.example',
      headerFrom: 'orders@good.example',
      client: LISTED,
      subject: 'dkim fail',
      sign: true,
      tamper: (message) => message.replace('ships tomorrow', 'ships tomorrOw'),
    });
    expect(await resultsOf(rejecting, sent)).toBe(
      header(
        'spf=pass smtp.mailfrom=orders@good.example',
        'dkim=fail header.d=good.example header.s=sel1',
        'dmarc=pass (p=reject) header.from=good.example',
      ),
    );
  });

  const forged: Sent = {
    // The envelope passes SPF, but the From domain is good.example (p=reject), unsigned: DMARC fails.
    from: 'bounce@soft.example',
    headerFrom: 'ceo@good.example',
    client: LISTED,
    subject: 'dmarc fail',
  };

  it('DMARC fail under dmarc: reject: 550 5.7.1, and nothing is spooled', async () => {
    const before = await rejecting.server.spool.count();
    const sent = await send(rejecting, forged);
    expect(sent.response).toBe('550 5.7.1 Rejected by DMARC policy for good.example');
    expect(sent.id).toBeUndefined();
    expect(await rejecting.server.spool.count()).toBe(before);
  });

  it('DMARC fail under dmarc: record: accepted, and the failure is in the header', async () => {
    const sent = await send(recording, forged);
    expect(await resultsOf(recording, sent)).toBe(
      header(
        'spf=pass smtp.mailfrom=bounce@soft.example',
        'dkim=none',
        'dmarc=fail (p=reject) header.from=good.example',
      ),
    );
  });

  it('DMARC fail for p=quarantine under dmarc: reject: accepted and recorded', async () => {
    const sent = await send(rejecting, {
      from: 'news@quiet.example',
      headerFrom: 'news@quiet.example',
      client: STRANGER,
      subject: 'quarantine',
    });
    expect(await resultsOf(rejecting, sent)).toBe(
      header(
        'spf=fail smtp.mailfrom=news@quiet.example',
        'dkim=none',
        'dmarc=fail (p=quarantine) header.from=quiet.example',
      ),
    );
  });

  it('removes an incoming Authentication-Results that claims our name, keeps another receiver’s', async () => {
    const sent = await send(rejecting, {
      from: 'news@soft.example',
      headerFrom: 'news@soft.example',
      client: LISTED,
      subject: 'forged results',
      prepend:
        'Authentication-Results: mx.test;\r\n\tspf=pass smtp.mailfrom=ceo@good.example\r\n' +
        'Authentication-Results: mx.upstream.example; spf=pass\r\n',
    });
    expect(await resultsOf(rejecting, sent)).toBe(
      header('spf=pass smtp.mailfrom=news@soft.example', 'dkim=none', 'dmarc=none header.from=soft.example'),
    );
    const text = await storedText(rejecting.server.spool, sent.id ?? '', 'latin1');
    const headerSection = text.slice(0, text.indexOf('\r\n\r\n'));
    expect(headerSection.match(/^Authentication-Results:/gim)).toHaveLength(2);
    expect(headerSection).toContain('\r\nAuthentication-Results: mx.upstream.example; spf=pass\r\n');
    expect(headerSection).not.toContain('ceo@good.example');
  });

  it('a message too large to be held in memory (512 KiB): the header goes on top of the file, DKIM passes', async () => {
    const line = 'The order ships tomorrow, and this line makes the body large enough.\n';
    const sent = await send(rejecting, {
      from: 'orders@good.example',
      headerFrom: 'orders@good.example',
      client: LISTED,
      subject: 'large',
      sign: true,
      text: line.repeat(Math.ceil((512 * 1024) / line.length)),
      prepend: 'Authentication-Results: MX.TEST; dkim=pass header.d=good.example\r\n',
    });
    expect(await resultsOf(rejecting, sent)).toBe(
      header(
        'spf=pass smtp.mailfrom=orders@good.example',
        'dkim=pass header.d=good.example header.s=sel1',
        'dmarc=pass (p=reject) header.from=good.example',
      ),
    );
    const text = await storedText(rejecting.server.spool, sent.id ?? '', 'latin1');
    expect(text.length).toBeGreaterThan(512 * 1024);
    expect(text.match(/^Authentication-Results:/gim)).toHaveLength(1);
    expect(text.endsWith(line.replace('\n', '\r\n'))).toBe(true);
    // The envelope's size is the bytes on disk, header included (the spool reads it back by it).
    expect((await rejecting.server.spool.envelope(sent.id ?? ''))?.size).toBe(text.length);
  });

  it('under spf: reject, an SPF fail is refused at MAIL FROM (550 5.7.23), before the body is sent', async () => {
    dns.records.set('hard.example', { TXT: [`v=spf1 ip4:${LISTED} -all`] });
    const before = await spfRejecting.server.spool.count();
    const probe = await SmtpProbe.connect(spfRejecting.port('smtp'), { localAddress: STRANGER });
    try {
      expect((await probe.read()).code).toBe(220);
      expect((await probe.command('EHLO mta.good.example')).code).toBe(250);
      expect((await probe.command('MAIL FROM:<news@hard.example>', 15_000)).last).toBe(
        '550 5.7.23 SPF validation failed for hard.example',
      );
      // A softfail is only recorded: the same session goes on with another sender.
      expect((await probe.command('MAIL FROM:<news@soft.example>', 15_000)).code).toBe(250);
      expect((await probe.command('RCPT TO:<rcpt@local.test>')).code).toBe(250);
    } finally {
      probe.close();
    }
    // The listed client passes, and its message is accepted and marked.
    const sent = await send(spfRejecting, {
      from: 'news@hard.example',
      headerFrom: 'news@hard.example',
      client: LISTED,
      subject: 'spf reject, listed',
    });
    expect(await resultsOf(spfRejecting, sent)).toBe(
      header('spf=pass smtp.mailfrom=news@hard.example', 'dkim=none', 'dmarc=none header.from=hard.example'),
    );
    expect(await spfRejecting.server.spool.count()).toBe(before + 1);
  });

  it('a header section over 256 KiB: 552 5.3.4 under record, nothing spooled, one warning naming the reason', async () => {
    const before = await recording.server.spool.count();
    const sent = await send(recording, {
      from: 'orders@good.example',
      headerFrom: 'orders@good.example',
      client: LISTED,
      subject: 'huge header',
      sign: true,
      prepend: `X-Padding: ${'p'.repeat(300 * 1024)}\r\n`,
    });
    expect(sent.id).toBeUndefined();
    expect(sent.response).toBe('552 5.3.4 Message header size exceeds limit');
    expect(await recording.server.spool.count()).toBe(before);
    const warned = warnings.lines.filter((line) => line.msg === 'inbound authentication incomplete');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ reason: 'header section over 256 KiB, not verified', spf: 'pass' });
  });

  it('padding the header past 256 KiB does not sidestep p=reject, nor carry a forged result of ours', async () => {
    const before = await rejecting.server.spool.count();
    const sent = await send(rejecting, {
      ...forged,
      subject: 'padded forgery',
      prepend:
        'Authentication-Results: mx.test; dmarc=pass header.from=good.example\r\n' +
        `X-Padding: ${'p'.repeat(300 * 1024)}\r\n`,
    });
    expect(sent.response).toBe('552 5.3.4 Message header size exceeds limit');
    expect(await rejecting.server.spool.count()).toBe(before);
  });

  it('a header section just under 256 KiB is still verified, and the forgery refused as DMARC fail', async () => {
    const sent = await send(rejecting, {
      ...forged,
      subject: 'padded, under the limit',
      prepend: `X-Padding: ${'p'.repeat(250 * 1024)}\r\n`,
    });
    expect(sent.response).toMatch(/^550 5\.7\.1 /);
  });

  it('a trusted client (127.0.0.1 is in trustedNetworks) is not evaluated', async () => {
    const sent = await send(rejecting, { ...forged, client: '127.0.0.1', subject: 'trusted' });
    if (sent.id === undefined) throw new Error(`not accepted: ${sent.response}`);
    const text = await storedText(rejecting.server.spool, sent.id, 'latin1');
    expect(text).toMatch(/^Received: from mta\.good\.example \(\[127\.0\.0\.1\]\)/);
    expect(text).not.toMatch(/^Authentication-Results:/im);
    expect(text).not.toMatch(/^Received-SPF:/im);
  });
});

describe('inbound authentication when DNS does not answer', () => {
  /** A DNS server that reads every query and answers none: each lookup times out. */
  let silent: Socket;
  let recording: TestServer;
  let rejecting: TestServer;

  beforeAll(async () => {
    silent = createSocket('udp4');
    silent.on('message', () => undefined);
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const address = { address: `127.0.0.1:${String(silent.address().port)}` };
    [recording, rejecting] = await Promise.all([
      startServer(address, 'record', 1),
      startServer(address, 'reject', 1),
    ]);
  });
  afterAll(async () => {
    await Promise.all([recording.close(), rejecting.close()]);
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  const sent: Sent = {
    from: 'orders@good.example',
    headerFrom: 'orders@good.example',
    client: LISTED,
    subject: 'dns down',
  };

  it('records temperror under dmarc: record and accepts', async () => {
    const accepted = await send(recording, sent);
    expect(await resultsOf(recording, accepted)).toBe(
      header(
        'spf=temperror smtp.mailfrom=orders@good.example',
        'dkim=none',
        'dmarc=temperror header.from=good.example',
      ),
    );
  });

  it('defers (451 4.7.1) under dmarc: reject: the policy could not be read, nothing is refused for good', async () => {
    const deferred = await send(rejecting, sent);
    expect(deferred.response).toBe('451 4.7.1 DMARC check could not be completed, try again later');
  });
});
