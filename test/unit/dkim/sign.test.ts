import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../../src/config/load.js';
import type { DkimAlgorithm } from '../../../src/dkim/algorithms.js';
import { dkimRecord, generateDkimKey, zoneFileLine } from '../../../src/dkim/keygen.js';
import { loadDkimKeys } from '../../../src/dkim/keys.js';
import { DkimSigner, fromDomain } from '../../../src/dkim/sign.js';
import { pythonDkimAvailable, verifyWithMailauth, verifyWithPythonDkim } from '../../helpers/dkim-verify.js';

const dir = mkdtempSync(join(tmpdir(), 'mailwharf-dkim-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const message = (from: string, body = 'Hello,\r\n\r\nthe body of the message.\r\n'): Buffer =>
  Buffer.from(
    `Received: from client by mx.example.com; Mon, 30 Nov 2026 10:00:00 +0000\r\n` +
      `From: Alice <${from}>\r\nTo: bob@example.org\r\nSubject: DKIM test\r\n` +
      `Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <dkim-test@example.com>\r\n\r\n${body}`,
  );

function setup(algorithm: DkimAlgorithm, domain = 'example.com') {
  const generated = generateDkimKey(domain, 'sel1', algorithm);
  const keyFile = join(dir, `${algorithm}-${domain}.pem`);
  writeFileSync(keyFile, generated.privateKeyPem, { mode: 0o600 });
  const keys = loadDkimKeys([{ domain, selector: 'sel1', keyFile, algorithm }], 'test.yaml');
  const records = { [generated.record.name]: generated.record.value };
  return { signer: new DkimSigner(keys), records, generated };
}

async function signed(signer: DkimSigner, bytes: Buffer): Promise<Buffer> {
  const header = bytes.subarray(0, bytes.indexOf('\r\n\r\n') + 2).toString();
  const outcome = await signer.sign(header, Readable.from([bytes]));
  if (outcome.kind !== 'signed') throw new Error(`not signed: ${JSON.stringify(outcome)}`);
  return Buffer.concat([Buffer.from(outcome.header), bytes]);
}

const python = pythonDkimAvailable();

describe.each(['rsa-sha256', 'ed25519-sha256'] as const)('DKIM signing with %s', (algorithm) => {
  const { signer, records, generated } = setup(algorithm);

  it('publishes the key as RFC 6376 / RFC 8463 want it', () => {
    expect(generated.record.name).toBe('sel1._domainkey.example.com');
    const k = algorithm === 'rsa-sha256' ? 'rsa' : 'ed25519';
    expect(generated.record.value).toMatch(new RegExp(`^v=DKIM1; k=${k}; p=[A-Za-z0-9+/]+=*$`));
    // Ed25519 publishes the bare 32-byte key (44 base64 characters), RSA the whole SPKI.
    const p = generated.record.value.split('p=')[1] ?? '';
    if (algorithm === 'ed25519-sha256') expect(Buffer.from(p, 'base64')).toHaveLength(32);
    else expect(Buffer.from(p, 'base64').length).toBeGreaterThan(256);
  });

  it('signs so that mailauth verifies, and a changed body byte fails', async () => {
    const out = await signed(signer, message('alice@example.com'));
    expect(out.toString()).toMatch(
      new RegExp(`^DKIM-Signature: v=1; a=${algorithm}; c=relaxed/relaxed; d=example.com;`),
    );
    expect(await verifyWithMailauth(out, records)).toBe('pass');
    const tampered = Buffer.from(out.toString().replace('the body', 'the bodY'));
    expect(await verifyWithMailauth(tampered, records)).not.toBe('pass');
  });

  it('hashes the t= it writes, even when a second passes while it signs', async () => {
    // Each read of the clock is a second later than the one before: a signer that reads it
    // once for the header it hashes and again for the header it returns writes another t=.
    let clock = Date.now();
    const tick = vi.spyOn(Date, 'now').mockImplementation(() => (clock += 1000));
    try {
      const out = await signed(signer, message('alice@example.com'));
      expect(await verifyWithMailauth(out, records)).toBe('pass');
    } finally {
      tick.mockRestore();
    }
  });

  it.skipIf(!python)('signs so that python3-dkim (an independent verifier) agrees', async () => {
    const out = await signed(signer, message('alice@example.com'));
    expect(verifyWithPythonDkim(out, records)).toBe('pass');
    const tampered = Buffer.from(out.toString().replace('the body', 'the bodY'));
    expect(verifyWithPythonDkim(tampered, records)).toBe('fail');
  });
});

describe('which key signs', () => {
  const { signer } = setup('ed25519-sha256', 'example.com');

  it.each([
    ['alice@example.com', 'signed'], // the From domain's own key
    ['alice@news.example.com', 'signed'], // a parent's key still aligns (relaxed DMARC)
    ['alice@example.org', 'unsigned'], // no key: sent as it is
    ['alice@notexample.com', 'unsigned'], // a suffix that is not a parent domain
  ] as const)('From %s -> %s', async (from, kind) => {
    const bytes = message(from);
    const outcome = await signer.sign(
      bytes.subarray(0, bytes.indexOf('\r\n\r\n') + 2).toString(),
      Readable.from([bytes]),
    );
    expect(outcome.kind).toBe(kind);
    if (outcome.kind === 'signed') expect(outcome.domain).toBe('example.com');
  });

  it.each([
    ['From: alice@Example.COM\r\n', 'example.com'],
    ['From: "Smith, A" <a@x.test>, b@y.test\r\n', 'x.test'], // the first address
    ['From:\r\n =?UTF-8?Q?J=C3=B6rg?= <j@folded.test>\r\n', 'folded.test'], // folded
    ['From: Team: a@group.test;\r\n', 'group.test'], // a group
    ['To: a@b.test\r\n', undefined],
    ['From: undisclosed\r\n', undefined],
  ])('From domain of %j is %s', (header, domain) => {
    expect(fromDomain(header)).toBe(domain);
  });
});

describe('loading keys', () => {
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  });
  const rsa512 = generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey.export({
    type: 'pkcs1',
    format: 'pem',
  });
  const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });

  it.each([
    ['missing.pem', undefined, 'rsa-sha256', /cannot read .*missing\.pem \(ENOENT\)/],
    ['garbage.pem', 'not a key', 'rsa-sha256', /is not a PEM private key/],
    ['ed.pem', ed.toString(), 'rsa-sha256', /is a ed25519 key, but algorithm is rsa-sha256/],
    ['small.pem', rsa512.toString(), 'rsa-sha256', /512-bit RSA key; RFC 8301 requires at least 1024/],
  ] as const)('%s is refused with one line naming the field', (name, text, algorithm, reason) => {
    const keyFile = text === undefined ? join(dir, name) : write(name, text);
    const load = () =>
      loadDkimKeys([{ domain: 'example.com', selector: 's', keyFile, algorithm }], 'mailwharf.yaml');
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/^mailwharf\.yaml: delivery\.dkim\[0\]\.keyFile: /);
    expect(load).toThrow(reason);
  });

  it('accepts a 1024-bit PKCS#8 RSA key and makes the same record from the private key', () => {
    const keyFile = write('rsa1024.pem', rsa1024.toString());
    const [key] = loadDkimKeys(
      [{ domain: 'example.com', selector: 's', keyFile, algorithm: 'rsa-sha256' }],
      'x',
    );
    expect(key?.privateKeyPem).toContain('BEGIN PRIVATE KEY');
    const record = dkimRecord('example.com', 's', createPrivateKey(rsa1024));
    expect(zoneFileLine(record)).toMatch(
      /^s\._domainkey\.example\.com\. IN TXT \( "v=DKIM1; k=rsa; p=[^"]{1,239}"( "[^"]{1,255}")* \)$/,
    );
  });
});
