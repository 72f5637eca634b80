import { writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DkimAlgorithm } from '../../src/dkim/algorithms.js';
import { generateDkimKey } from '../../src/dkim/keygen.js';
import { pythonDkimDnsAvailable, verifyWithPythonDkimByDns } from '../helpers/dkim-verify.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import {
  postfixUnavailable,
  startGreylist,
  startPostfix,
  type PostfixInstance,
} from '../helpers/postfix-instance.js';
import { eventually, startRelay } from '../helpers/relay.js';
import { sendRaw } from '../helpers/smtp-sink.js';

/**
 * DKIM signing checked end to end against a real receiving MTA: mailwharf signs and delivers
 * to a private Postfix instance, Postfix stores the message in a Maildir, and python3-dkim
 * (not the library we sign with) verifies the stored bytes, fetching the public key over DNS
 * from a loopback server the test runs — the record `mailwharf dkim keygen` prints.
 */
const skipReason =
  postfixUnavailable() ?? (pythonDkimDnsAvailable() ? undefined : 'python3-dkim/nacl/dnspython missing');

describe.skipIf(skipReason !== undefined)('DKIM-signed mail stored by Postfix verifies', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A signing key for example.com, its public half served by a loopback DNS server. */
  async function signingKey(algorithm: DkimAlgorithm): Promise<{ dkim: unknown; dns: DnsServer }> {
    const dir = await mkdtemp(join(tmpdir(), 'mailwharf-dkim-key-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const key = generateDkimKey('example.com', 'mail2026', algorithm);
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, key.privateKeyPem, { mode: 0o600 });
    const dns = await startDnsServer({ [key.record.name]: { TXT: [key.record.value] } });
    cleanups.push(() => dns.close());
    return { dkim: [{ domain: 'example.com', selector: 'mail2026', keyFile, algorithm }], dns };
  }

  async function postfix(policyPort?: number): Promise<PostfixInstance> {
    const instance = await startPostfix({
      domain: 'one.test',
      ...(policyPort === undefined ? {} : { policyPort }),
    });
    cleanups.push(() => instance.stop());
    return instance;
  }

  // One Postfix (about 5 s to start and stop) for the cases that need no policy service.
  let shared: PostfixInstance | undefined;
  beforeAll(async () => {
    shared = await startPostfix({ domain: 'one.test' });
  }, 60_000);
  afterAll(async () => {
    await shared?.stop();
  }, 60_000);
  const sharedPostfix = (): PostfixInstance => {
    if (!shared) throw new Error('the shared Postfix did not start');
    return shared;
  };

  async function relayTo(receiver: PostfixInstance, dkim: unknown) {
    const started = await startRelay(
      { type: 'smarthost', host: '127.0.0.1', port: receiver.port, tls: 'none' },
      { delivery: { dkim } },
    );
    cleanups.push(started.close);
    return started;
  }

  /** A message whose Message-ID names the case, so one Postfix can hold several. */
  const message = (id: string, body: string): Buffer =>
    Buffer.from(
      `From: Alice <alice@example.com>\r\nTo: bob@one.test\r\nSubject: signed for Postfix\r\n` +
        `Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${id}@example.com>\r\n\r\n${body}`,
    );

  /** The verdict, and proof that the verifier asked our DNS server for the key. */
  async function verify(stored: Buffer, dns: DnsServer): Promise<string> {
    const asked = dns.queries.length;
    const verdict = await verifyWithPythonDkimByDns(stored, dns.port);
    expect(dns.queries.slice(asked)).toContain('TXT mail2026._domainkey.example.com');
    return verdict;
  }

  /** The stored message with one body byte changed (the first of `marker`): a tampered copy. */
  function tamper(stored: Buffer, marker: string): Buffer {
    const copy = Buffer.from(stored);
    const at = copy.indexOf(marker, copy.indexOf('\n\n'));
    expect(at).toBeGreaterThan(0);
    copy[at] = marker.charCodeAt(0) ^ 0x20; // flip the letter's case
    return copy;
  }

  it.each(['rsa-sha256', 'ed25519-sha256'] as const)(
    '%s: Postfix stores a message whose signature verifies; a changed body byte fails',
    async (algorithm) => {
      const { dkim, dns } = await signingKey(algorithm);
      const receiver = sharedPostfix();
      const { relay } = await relayTo(receiver, dkim);
      await sendRaw(relay.ports.smtp ?? 0, {
        from: 'alice@example.com',
        to: [{ address: 'bob@one.test' }],
        message: message(algorithm, 'Hello Bob.\r\n..a line that starts with a dot\r\nbye\r\n'),
      });
      const stored = await receiver.waitForMessage(`<${algorithm}@example.com>`);
      const text = stored.toString('latin1');
      // Postfix's own trace headers sit above ours: the message went through its smtpd and virtual(8).
      expect(text).toMatch(/^Return-Path: <alice@example\.com>\n/);
      expect(text).toContain('Delivered-To: bob@one.test\n');
      expect(text).toMatch(/\nReceived: from relay\.test /);
      expect(text).toMatch(new RegExp(`\\nDKIM-Signature: v=1; a=${algorithm}; [^]*?d=example\\.com;`));
      expect(text).toContain('\n.a line that starts with a dot\n');
      expect(await verify(stored, dns)).toBe('pass');
      expect(await verify(tamper(stored, 'bye'), dns)).toBe('fail');
    },
    120_000,
  );

  it('a 10 MiB message stored by Postfix verifies', async () => {
    const { dkim, dns } = await signingKey('rsa-sha256');
    const receiver = sharedPostfix();
    const { relay } = await relayTo(receiver, dkim);
    const line = `${'0123456789abcdef'.repeat(4)}\r\n`;
    const body = `${line.repeat(Math.ceil((10 * 1024 * 1024) / line.length))}the end\r\n`;
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'alice@example.com',
      to: [{ address: 'bob@one.test' }],
      message: message('ten-mib', body),
    });
    const stored = await receiver.waitForMessage('<ten-mib@example.com>', 120_000);
    // 10 MiB less the CRs Postfix's Maildir drops, plus the headers.
    expect(stored.length).toBeGreaterThan(10 * 1024 * 1024 - body.length / line.length);
    expect(stored.toString('latin1').trimEnd().endsWith('the end')).toBe(true);
    expect(await verify(stored, dns)).toBe('pass');
    expect(await verify(tamper(stored, 'the end'), dns)).toBe('fail');
  }, 240_000);

  it('a message greylisted (450 4.7.1) on the first attempt is stored on the retry with the same signature', async () => {
    const { dkim, dns } = await signingKey('ed25519-sha256');
    const greylist = await startGreylist();
    cleanups.push(() => greylist.close());
    const receiver = await postfix(greylist.port);
    const { relay, root } = await relayTo(receiver, dkim);
    const queued = await sendRaw(relay.ports.smtp ?? 0, {
      from: 'alice@example.com',
      to: [{ address: 'bob@one.test' }],
      message: message('greylisted', 'Retry me.\r\n'),
    });
    const id = /queued as (\S+)/.exec(queued)?.[1] ?? '';
    const stateFile = join(root, 'spool', 'queue', `${id}.state.json`);
    // The signature as the first, refused attempt left it in the message's state.
    const firstSignature = await eventually(async () => {
      const state = JSON.parse(await readFile(stateFile, 'utf8').catch(() => '{}')) as {
        recipients?: { status: string; lastReply?: unknown }[];
        dkimSignature?: string;
      };
      return state.recipients?.[0]?.status === 'deferred' ? state.dkimSignature : undefined;
    }, 'a deferral after the greylisting 450');
    expect(firstSignature).toMatch(/^DKIM-Signature: /);

    const stored = await receiver.waitForMessage('<greylisted@example.com>');
    expect(greylist.decisions).toEqual([
      'alice@example.com bob@one.test -> DEFER_IF_PERMIT Greylisted, try again later',
      'alice@example.com bob@one.test -> DUNNO',
    ]);
    expect(await receiver.log()).toMatch(/NOQUEUE: reject: RCPT from [^\n]*450 4\.7\.1 <bob@one\.test>/);
    // Postfix stores with bare LF line ends; the signature is the one made before the first attempt.
    const text = stored.toString('latin1');
    expect(text).toContain(`\n${firstSignature.replaceAll('\r\n', '\n')}`);
    expect(await verify(stored, dns)).toBe('pass');
    expect(await verify(tamper(stored, 'Retry'), dns)).toBe('fail');
  }, 120_000);
});
