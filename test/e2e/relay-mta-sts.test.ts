import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { DeliveryState } from '../../src/delivery/state.js';
import type { MailwharfServer } from '../../src/index.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { freePort } from '../helpers/external.js';
import { createPrivateCa, type PrivateCa } from '../helpers/private-ca.js';
import { runCli } from '../helpers/process.js';
import { eventually, startRelay, stateOf as stateOfQueued, submit } from '../helpers/relay.js';
import { startReceiver, type Receiver } from '../helpers/smtp-receiver.js';

/**
 * MTA-STS on the MX route, end to end: a loopback DNS server answers MX, A and the _mta-sts
 * TXT records; a loopback HTTPS server with a certificate from a CA this test makes serves
 * the policies; real receivers (smtp-server) listen on 127.0.0.2-4, with no STARTTLS, with a
 * certificate from that CA, and with a self-signed one. The relay connects by the address its
 * resolver found, naming the MX host in SNI and in the certificate check.
 */
const POLICIES: Record<string, string> = {
  'good.test': 'mode: enforce\nmx: mx.good.test',
  'wrong.test': 'mode: enforce\nmx: mx.wrong.test',
  'badcert.test': 'mode: enforce\nmx: *.badcert.test',
  'notls.test': 'mode: enforce\nmx: mx.notls.test',
  'testing.test': 'mode: testing\nmx: mx.other.test',
  'testingcert.test': 'mode: testing\nmx: mx.testingcert.test',
};
const MX: Record<string, [string, string]> = {
  'plain.test': ['mx.plain.test', '127.0.0.2'],
  'testing.test': ['mx.testing.test', '127.0.0.2'],
  'good.test': ['mx.good.test', '127.0.0.3'],
  'wrong.test': ['mx.wrong-host.test', '127.0.0.2'],
  'badcert.test': ['mx.badcert.test', '127.0.0.4'],
  'notls.test': ['mx.notls.test', '127.0.0.2'],
  'testingcert.test': ['mx.testingcert.test', '127.0.0.4'],
};

let ca: PrivateCa;
let dns: DnsServer;
let policyServer: Server;
let plain: Receiver;
let good: Receiver;
let badCert: Receiver;
let relay: MailwharfServer;
let root: string;
let closeRelay: () => Promise<void>;
const logLines: string[] = [];

beforeAll(async () => {
  ca = createPrivateCa();
  dns = await startDnsServer();
  const policyCert = ca.issue(Object.keys(POLICIES).map((domain) => `mta-sts.${domain}`));
  policyServer = createServer(policyCert, (req, res) => {
    const domain = (req.headers.host ?? '').replace(/^mta-sts\./, '');
    const policy = POLICIES[domain];
    if (!policy || req.url !== '/.well-known/mta-sts.txt') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`version: STSv1\n${policy}\nmax_age: 86400\n`);
  });
  await new Promise<void>((resolve) => policyServer.listen(0, '127.0.0.1', resolve));
  for (const [domain, [host, address]] of Object.entries(MX)) {
    dns.records.set(domain, { MX: [{ exchange: host, priority: 10 }] });
    dns.records.set(host, { A: [address] });
  }
  for (const domain of Object.keys(POLICIES)) {
    dns.records.set(`_mta-sts.${domain}`, { TXT: ['v=STSv1; id=20261130'] });
    dns.records.set(`mta-sts.${domain}`, { A: ['127.0.0.1'] });
  }
  const port = await freePort();
  plain = await startReceiver('127.0.0.2', port);
  good = await startReceiver('127.0.0.3', port, ca.issue(['mx.good.test']));
  badCert = await startReceiver('127.0.0.4', port, ca.selfSigned(['mx.badcert.test']));
  const logs = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  ({
    relay,
    root,
    close: closeRelay,
  } = await startRelay(
    { type: 'mx', port },
    {
      delivery: {
        dns: { servers: [dns.address] },
        mtaSts: { policyPort: (policyServer.address() as AddressInfo).port },
        caFile: ca.certFile,
      },
      logger: pino({ level: 'info' }, logs),
    },
  ));
});

afterAll(async () => {
  await closeRelay();
  await Promise.all([plain.stop(), good.stop(), badCert.stop(), dns.close()]);
  await new Promise((resolve) => policyServer.close(resolve));
  ca.remove();
});

const stateOf = (rcpt: string, accept: (s: DeliveryState) => boolean): Promise<DeliveryState> =>
  stateOfQueued(relay, rcpt, accept);

const deferred = (s: DeliveryState): boolean => s.recipients[0]?.status === 'deferred';

describe('MTA-STS on the MX route', () => {
  it('a domain with no policy delivers as before, every lookup through delivery.dns, to the address it found', async () => {
    await submit(relay, { from: 'app@relay.test', to: 'user@plain.test', subject: 'no policy' });
    const got = await eventually(
      () => plain.received.find((m) => m.rcptTo.includes('user@plain.test')),
      'the message at 127.0.0.2',
    );
    expect(got.secure).toBe(false);
    expect(dns.queries).toEqual(
      expect.arrayContaining(['MX plain.test', 'TXT _mta-sts.plain.test', 'A mx.plain.test']),
    );
  });

  it('enforce with a listed MX: STARTTLS, SNI and the certificate checked against the MX name', async () => {
    await submit(relay, { from: 'app@relay.test', to: 'user@good.test', subject: 'enforced' });
    const got = await eventually(
      () => good.received.find((m) => m.rcptTo.includes('user@good.test')),
      'the message at 127.0.0.3',
    );
    expect(got.secure).toBe(true);
    expect(good.servernames).toContain('mx.good.test');
  });

  it('enforce with an MX the policy does not list: not delivered, not even resolved; 4.7.5 in queue list', async () => {
    await submit(relay, { from: 'app@relay.test', to: 'user@wrong.test', subject: 'wrong mx' });
    const state = await stateOf('user@wrong.test', deferred);
    expect(state.recipients[0]?.outcome).toMatchObject({
      enhanced: '4.7.5',
      text: 'MTA-STS policy (enforce) does not list MX mx.wrong-host.test',
    });
    expect(dns.queries).not.toContain('A mx.wrong-host.test');
    expect(plain.received.some((m) => m.rcptTo.includes('user@wrong.test'))).toBe(false);
    const configPath = join(root, 'cli.yaml');
    await writeFile(configPath, stringify({ ...relay.config, log: { level: 'silent' } }));
    const listed = await runCli(['queue', 'list', '--config', configPath]);
    expect(listed.stdout).toContain('4.7.5 MTA-STS policy (enforce) does not list MX mx.wrong-host.test');
  });

  it('enforce with a certificate that does not verify: deferred 4.7.5, never sent', async () => {
    await submit(relay, { from: 'app@relay.test', to: 'user@badcert.test', subject: 'bad cert' });
    const state = await stateOf('user@badcert.test', deferred);
    expect(state.recipients[0]?.outcome?.enhanced).toBe('4.7.5');
    expect(state.recipients[0]?.outcome?.text).toMatch(/MTA-STS policy \(enforce\)/);
    expect(badCert.connections).toBeGreaterThan(0);
    expect(badCert.received).toEqual([]);
  });

  it('enforce with an MX that offers no STARTTLS: deferred 4.7.4, never sent in plaintext', async () => {
    await submit(relay, { from: 'app@relay.test', to: 'user@notls.test', subject: 'no tls' });
    const state = await stateOf('user@notls.test', deferred);
    expect(state.recipients[0]?.outcome).toMatchObject({ enhanced: '4.7.4' });
    expect(state.recipients[0]?.outcome?.text).toMatch(
      /^TLS is required, but was not offered by host mx\.notls\.test/,
    );
    expect(plain.received.some((m) => m.rcptTo.includes('user@notls.test'))).toBe(false);
  });

  it('testing with an unlisted MX: delivered, and the mismatch logged', async () => {
    await submit(relay, { from: 'app@relay.test', to: 'user@testing.test', subject: 'testing' });
    await eventually(
      () => plain.received.find((m) => m.rcptTo.includes('user@testing.test')),
      'the message at 127.0.0.2',
    );
    expect(
      logLines.some((line) => line.includes("MTA-STS testing: mx.testing.test is not in the policy's mx")),
    ).toBe(true);
    // Its MX offers no STARTTLS either: also a validation failure testing mode reports.
    expect(logLines).toContainEqual(
      expect.stringContaining(
        'MTA-STS testing: mx.testing.test failed TLS validation (no TLS (STARTTLS not offered)); delivering anyway',
      ),
    );
  });

  it('testing with a listed MX whose certificate does not verify: delivered over TLS, the reason logged', async () => {
    await submit(relay, { from: 'app@relay.test', to: 'user@testingcert.test', subject: 'testing cert' });
    const got = await eventually(
      () => badCert.received.find((m) => m.rcptTo.includes('user@testingcert.test')),
      'the message at 127.0.0.4',
    );
    expect(got.secure).toBe(true);
    const line = await eventually(
      () => logLines.find((l) => l.includes('MTA-STS testing: mx.testingcert.test failed TLS validation')),
      'the testing-mode report in the log',
    );
    expect(JSON.parse(line)).toMatchObject({
      level: 40,
      domain: 'testingcert.test',
      mx: 'mx.testingcert.test',
      tls: 'tls',
      reason: 'certificate did not verify: DEPTH_ZERO_SELF_SIGNED_CERT',
      policy: 'MTA-STS policy (testing)',
    });
    // A domain whose certificate verifies under enforce is not reported.
    expect(logLines.some((l) => l.includes('mx.good.test failed TLS validation'))).toBe(false);
  });
});
