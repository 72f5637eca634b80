import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';
import { freePort, startExternal, waitForPort, type External } from '../helpers/external.js';
import { SmtpProbe, sendMessage } from '../helpers/smtp-probe.js';

/**
 * Two mailwharf nodes behind HAProxy (Debian package haproxy) with send-proxy: mail is
 * spread over both, each spools what it accepted, and the relay decision uses the client
 * address from the PROXY header, not the balancer's.
 */
describe('behind HAProxy with the PROXY protocol', () => {
  let root: string;
  let haproxy: External;
  let port: number;
  const nodes: Mailwharf[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mailwharf-haproxy-'));
    for (let i = 0; i < 2; i++) {
      nodes.push(
        await startMailwharf({
          config: {
            hostname: `node${String(i)}.test`,
            acceptedDomains: ['local.test'],
            policies: { plain: { relay: { trustedNetworks: ['127.0.0.2/32'] } } },
            listeners: [
              {
                name: 'smtp',
                role: 'relay',
                port: 0,
                host: '127.0.0.1',
                tls: 'none',
                policy: 'plain',
                proxyFrom: ['127.0.0.1'],
              },
            ],
          },
        }),
      );
    }
    port = await freePort();
    const config = [
      'global',
      '  maxconn 200',
      'defaults',
      '  mode tcp',
      '  timeout connect 2s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend smtp',
      `  bind 127.0.0.1:${String(port)}`,
      '  default_backend mailwharf',
      'backend mailwharf',
      '  balance roundrobin',
      ...nodes.map((node, i) => `  server node${String(i)} 127.0.0.1:${String(node.ports.smtp)} send-proxy`),
      '',
    ].join('\n');
    const path = join(root, 'haproxy.cfg');
    await writeFile(path, config);
    haproxy = startExternal('/usr/sbin/haproxy', ['-db', '-f', path]);
    await waitForPort(port);
  });

  afterAll(async () => {
    await haproxy.stop();
    await Promise.all(nodes.map((node) => node.stop()));
    await rm(root, { recursive: true, force: true });
  });

  async function viaBalancer(localAddress: string): Promise<SmtpProbe> {
    const probe = await SmtpProbe.connect(port, { localAddress });
    const greeting = await probe.read();
    expect(greeting.code).toBe(220);
    await probe.command('EHLO client.test');
    return probe;
  }

  it('spreads mail over both nodes and relays for the trusted client address', async () => {
    for (let i = 0; i < 4; i++) {
      const probe = await viaBalancer('127.0.0.2');
      const reply = await sendMessage(
        probe,
        'app@local.test',
        ['someone@elsewhere.test'],
        `Subject: spread ${String(i)}\r\n\r\nx`,
      );
      expect(reply.last).toMatch(/^250 2\.0\.0 Ok: queued as /);
      await probe.command('QUIT');
      probe.close();
    }
    const counts = await Promise.all(nodes.map(async (node) => (await node.server.spool.list()).length));
    expect(counts).toEqual([2, 2]);
    for (const node of nodes) {
      const message = await node.waitForMessage({ subject: 'spread' });
      expect(message.envelope.client.address).toBe('127.0.0.2');
      expect(message.parsed.headerLines.find((h) => h.key === 'received')?.line).toContain('[127.0.0.2]');
    }
  });

  it('refuses to relay for an untrusted client address, on either node', async () => {
    for (let i = 0; i < 2; i++) {
      const probe = await viaBalancer('127.0.0.3');
      expect((await probe.command('MAIL FROM:<x@outside.test>')).code).toBe(250);
      expect((await probe.command('RCPT TO:<victim@elsewhere.test>')).last).toBe(
        '554 5.7.1 Relay access denied',
      );
      // Mail for an accepted domain is still taken from anyone.
      expect((await probe.command('RCPT TO:<user@local.test>')).code).toBe(250);
      probe.close();
    }
  });

  it('PROXY UNKNOWN from the balancer gets no trust: 421 4.7.0, closed', async () => {
    const probe = await SmtpProbe.connect(nodes[0]?.ports.smtp ?? 0);
    probe.write('PROXY UNKNOWN\r\n');
    expect((await probe.read()).last).toBe('421 4.7.0 No client address from the load balancer; closing');
    await probe.closedByServer();
  });
});
