import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { DeliveryState } from '../../src/delivery/state.js';
import { createServer, type MailwharfServer } from '../../src/index.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { freePort } from '../helpers/external.js';
import { createPrivateCa, type PrivateCa } from '../helpers/private-ca.js';
import { runCli } from '../helpers/process.js';
import { eventually, startRelay, stateOf as stateOfQueued, submit } from '../helpers/relay.js';
import { startReceiver, type Receiver } from '../helpers/smtp-receiver.js';

/**
 * Per-domain TLS memory (chasquid's domain info): a domain whose MX once did TLS is never sent
 * to in plaintext again, and one whose MX once showed a verified certificate never to an
 * unverified one, across a restart, until `mailwharf tls forget`. The MX moves (its A record
 * changes) to a receiver that offers less, as an attacker in the path or a broken server would.
 */
let ca: PrivateCa;
let dns: DnsServer;
let port: number;
const receivers: Receiver[] = [];
let relay: MailwharfServer;
let root: string;
let closeRelay: () => Promise<void>;
let configPath: string;

const receiver = async (address: string, tls?: Parameters<typeof startReceiver>[2]): Promise<Receiver> => {
  const started = await startReceiver(address, port, tls);
  receivers.push(started);
  return started;
};

beforeAll(async () => {
  ca = createPrivateCa();
  dns = await startDnsServer({
    'mem.test': { MX: [{ exchange: 'mx.mem.test', priority: 10 }] },
    'ver.test': { MX: [{ exchange: 'mx.ver.test', priority: 10 }] },
  });
  port = await freePort();
  ({
    relay,
    root,
    close: closeRelay,
  } = await startRelay(
    { type: 'mx', port },
    { delivery: { dns: { servers: [dns.address] }, caFile: ca.certFile } },
  ));
  configPath = join(root, 'cli.yaml');
  await writeFile(configPath, stringify({ ...relay.config, log: { level: 'silent' } }));
});

afterAll(async () => {
  await relay.stop();
  await closeRelay();
  await Promise.all([...receivers.map((r) => r.stop()), dns.close()]);
  ca.remove();
});

const stateOf = (rcpt: string, accept: (s: DeliveryState) => boolean): Promise<DeliveryState> =>
  stateOfQueued(relay, rcpt, accept);

const remembered = async (domain: string): Promise<unknown> =>
  JSON.parse(await readFile(join(relay.config.spool.dir, 'tls', domain), 'utf8'));

describe('per-domain TLS memory', () => {
  it('a domain seen with TLS is not sent to in plaintext, across a restart, until the operator forgets it', async () => {
    const withTls = await receiver('127.0.0.5', ca.selfSigned(['mx.mem.test']));
    dns.records.set('mx.mem.test', { A: ['127.0.0.5'] });
    await submit(relay, { from: 'app@relay.test', to: 'one@mem.test', subject: 'first' });
    const first = await eventually(() => withTls.received[0], 'the first message');
    expect(first.secure).toBe(true);
    expect(await remembered('mem.test')).toMatchObject({ level: 'tls', host: 'mx.mem.test' });

    // The MX now answers from a server without STARTTLS.
    const plaintext = await receiver('127.0.0.7');
    dns.records.set('mx.mem.test', { A: ['127.0.0.7'] });
    await submit(relay, { from: 'app@relay.test', to: 'two@mem.test', subject: 'second' });
    const refused = await stateOf('two@mem.test', (s) => s.recipients[0]?.status === 'deferred');
    expect(refused.recipients[0]?.outcome).toMatchObject({ enhanced: '4.7.4' });
    expect(refused.recipients[0]?.outcome?.text).toMatch(
      /^TLS is required, but was not offered by host mx\.mem\.test \(this domain was seen with TLS before\)/,
    );

    // A restart remembers.
    await relay.stop();
    relay = await createServer(relay.config, { logger: pino({ level: 'silent' }) });
    await relay.start();
    const again = await stateOf('two@mem.test', (s) => s.attempts > refused.attempts + 1);
    expect(again.recipients[0]?.outcome?.enhanced).toBe('4.7.4');
    expect(plaintext.received).toEqual([]);

    const listed = await runCli(['tls', 'list', '--config', configPath]);
    expect(listed.stdout).toMatch(/^mem\.test {2}tls {2}seen \S+ at mx\.mem\.test$/m);
    const forgot = await runCli(['tls', 'forget', 'mem.test', '--config', configPath]);
    expect(forgot.code).toBe(0);
    expect(forgot.stdout).toContain('mem.test: forgotten');
    const second = await eventually(() => plaintext.received[0], 'the second message, in plaintext');
    expect(second).toMatchObject({ secure: false, rcptTo: ['two@mem.test'] });
    const unknown = await runCli(['tls', 'forget', 'mem.test', '--config', configPath]);
    expect(unknown.code).toBe(1);
  });

  it('a domain seen with a verified certificate is not sent to with an unverified one (4.7.5)', async () => {
    const verified = await receiver('127.0.0.6', ca.issue(['mx.ver.test']));
    dns.records.set('mx.ver.test', { A: ['127.0.0.6'] });
    await submit(relay, { from: 'app@relay.test', to: 'one@ver.test', subject: 'first' });
    await eventually(() => verified.received[0], 'the first message');
    expect(await remembered('ver.test')).toMatchObject({ level: 'tls-verified' });

    const selfSigned = await receiver('127.0.0.8', ca.selfSigned(['mx.ver.test']));
    dns.records.set('mx.ver.test', { A: ['127.0.0.8'] });
    await submit(relay, { from: 'app@relay.test', to: 'two@ver.test', subject: 'second' });
    const refused = await stateOf('two@ver.test', (s) => s.recipients[0]?.status === 'deferred');
    expect(refused.recipients[0]?.outcome?.enhanced).toBe('4.7.5');
    expect(refused.recipients[0]?.outcome?.text).toMatch(/seen with a verified certificate before/);
    expect(selfSigned.received).toEqual([]);
  });
});
