import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';

interface AuthReport {
  Summary: { DKIM: string; SPF: string; DMARC: string; ARC: string };
  DKIM: { Domain: string; Selector: string; Result: string; Aligned: boolean }[];
  SPF: { Result: string; ClientAddress: string; Sender: string };
  DMARC: { Result: string; Policy: string };
  Headers: string;
}

/**
 * An independent verifier: Debian python3-dkim (dkimpy) checks the stored message, asking
 * the same loopback DNS server through dnspython for the key.
 */
const DKIMPY = `
import sys, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ['127.0.0.1']
r.port = int(sys.argv[1])
def txt(name, timeout=5):
    answer = r.resolve(name.decode(), 'TXT', lifetime=timeout)
    return b''.join(b''.join(record.strings) for record in answer)
print('pass' if dkim.verify(sys.stdin.buffer.read(), dnsfunc=txt) else 'fail')
`;

function dkimpy(message: string, dnsPort: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      '/usr/bin/python3',
      ['-c', DKIMPY, String(dnsPort)],
      { timeout: 20_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`dkimpy failed: ${stderr}`));
        else resolve(stdout.trim());
      },
    );
    child.stdin?.end(message);
  });
}

describe('GET /api/mailwharf/message/{ID}/auth: DKIM, SPF, DMARC through a loopback DNS server', () => {
  let dns: DnsServer;
  let mail: Mailwharf;
  let base: string;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dkim = {
    domainName: 'shop.example',
    keySelector: 'sel2026',
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };

  beforeAll(async () => {
    const key = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    dns = await startDnsServer({
      'sel2026._domainkey.shop.example': { TXT: [`v=DKIM1; k=rsa; p=${key}`] },
      'shop.example': { TXT: ['v=spf1 ip4:127.0.0.1 -all'], A: ['127.0.0.1'] },
      '_dmarc.shop.example': { TXT: ['v=DMARC1; p=reject'] },
    });
    mail = await startMailwharf({
      config: { http: { enabled: true, port: 0 }, checks: { dnsServers: [dns.address] } },
    });
    base = `http://127.0.0.1:${String(mail.server.http?.port())}`;
  });
  afterAll(async () => {
    await mail.stop();
    await dns.close();
  });

  /** The message as the app's nodemailer would sign it, before it goes on the wire. */
  async function signed(subject: string): Promise<Buffer> {
    const built = await nodemailer
      .createTransport({ streamTransport: true, buffer: true, newline: 'windows', dkim })
      .sendMail({
        from: 'orders@shop.example',
        to: 'dev@example.org',
        subject,
        text: 'Thank you for your order.\nIt ships tomorrow.\n',
      });
    if (!Buffer.isBuffer(built.message)) throw new Error('streamTransport with buffer: true gives a Buffer');
    return built.message;
  }

  async function deliver(raw: Buffer | string, subject: string): Promise<string> {
    await nodemailer
      .createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 })
      .sendMail({ envelope: { from: 'orders@shop.example', to: ['dev@example.org'] }, raw });
    return (await mail.waitForMessage({ subject })).id;
  }

  const report = async (id: string) => {
    const response = await fetch(`${base}/api/mailwharf/message/${id}/auth`);
    expect(response.status).toBe(200);
    return (await response.json()) as AuthReport;
  };
  const stored = async (id: string) => (await fetch(`${base}/api/v1/message/${id}/raw`)).text();

  it('says pass for a message signed with the published key, as dkimpy does', async () => {
    const id = await deliver(await signed('Order 1 confirmed'), 'Order 1 confirmed');
    const auth = await report(id);
    expect(auth.Summary).toEqual({ DKIM: 'pass', SPF: 'pass', DMARC: 'pass', ARC: 'none' });
    expect(auth.DKIM).toMatchObject([
      { Domain: 'shop.example', Selector: 'sel2026', Result: 'pass', Aligned: true },
    ]);
    expect(auth.SPF).toMatchObject({ ClientAddress: '127.0.0.1', Sender: 'orders@shop.example' });
    expect(auth.Headers).toMatch(/dkim=pass/);
    expect(dns.queries).toContain('TXT sel2026._domainkey.shop.example');
    expect(await dkimpy(await stored(id), dns.port)).toBe('pass');
  });

  it('says fail when one body byte changed after signing, as dkimpy does', async () => {
    const original = (await signed('Order 2 confirmed')).toString('latin1');
    const tampered = original.replace('ships tomorrow', 'ships tomorrOw');
    expect(tampered).not.toBe(original);
    const id = await deliver(tampered, 'Order 2 confirmed');
    const auth = await report(id);
    expect(auth.Summary.DKIM).toBe('fail');
    expect(auth.DKIM[0]?.Result).toBe('fail');
    // DMARC still passes through SPF: the envelope sender's domain is aligned and listed.
    expect(auth.Summary).toMatchObject({ SPF: 'pass', DMARC: 'pass' });
    expect(await dkimpy(await stored(id), dns.port)).toBe('fail');
  });

  it('says none for an unsigned message; SPF fails for a client the record does not list', async () => {
    dns.records.set('shop.example', { TXT: ['v=spf1 ip4:192.0.2.1 -all'] });
    try {
      await nodemailer.createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 }).sendMail({
        from: 'orders@shop.example',
        to: 'dev@example.org',
        subject: 'Order 3 unsigned',
        text: 'No signature here',
      });
      const id = (await mail.waitForMessage({ subject: 'Order 3 unsigned' })).id;
      const auth = await report(id);
      expect(auth.Summary).toMatchObject({ DKIM: 'none', SPF: 'fail', DMARC: 'fail' });
      expect(auth.DKIM).toEqual([]);
    } finally {
      dns.records.set('shop.example', { TXT: ['v=spf1 ip4:127.0.0.1 -all'], A: ['127.0.0.1'] });
    }
  });

  it('answers 404 for an unknown message', async () => {
    expect((await fetch(`${base}/api/mailwharf/message/NOPE/auth`)).status).toBe(404);
  });
});
