import { writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DkimAlgorithm } from '../../src/dkim/algorithms.js';
import { generateDkimKey } from '../../src/dkim/keygen.js';
import { pythonDkimAvailable, verifyWithMailauth, verifyWithPythonDkim } from '../helpers/dkim-verify.js';
import { freePort, startExternal, waitForPort } from '../helpers/external.js';
import { eventually, startRelay } from '../helpers/relay.js';
import { sendRaw, startSink, type Sink } from '../helpers/smtp-sink.js';

/**
 * DKIM signing on the way out, checked where it matters: the bytes Postfix's smtp-sink
 * received, verified by python3-dkim (an implementation we do not sign with) and mailauth,
 * against the record `mailwharf dkim keygen` would print.
 */
const python = pythonDkimAvailable();

describe.skipIf(!python)('relay DKIM signing', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function keyFor(algorithm: DkimAlgorithm) {
    const dir = await mkdtemp(join(tmpdir(), 'mailwharf-dkim-key-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const key = generateDkimKey('example.com', 'mail2026', algorithm);
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, key.privateKeyPem, { mode: 0o600 });
    return {
      dkim: [{ domain: 'example.com', selector: 'mail2026', keyFile, algorithm }],
      records: { [key.record.name]: key.record.value },
    };
  }

  async function relayTo(port: number, dkim: unknown) {
    const started = await startRelay(
      { type: 'smarthost', host: '127.0.0.1', port, tls: 'none' },
      { delivery: { dkim } },
    );
    cleanups.push(started.close);
    return started;
  }

  const message = (body: string, extraHeaders = ''): Buffer =>
    Buffer.from(
      `From: Alice <alice@example.com>\r\nTo: bob@one.test\r\nSubject: signed\r\n` +
        `Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <dkim-e2e@example.com>\r\n${extraHeaders}\r\n${body}`,
    );

  /** The message once smtp-sink has dumped all of it (it writes the dump as DATA arrives). */
  async function received(sink: Sink, lastLine: string): Promise<Buffer> {
    const [got] = await sink.waitFor(
      (m) => m.text.trimEnd().endsWith(lastLine),
      'the whole message at the sink',
      1,
    );
    return Buffer.from(got?.text ?? '', 'latin1');
  }

  it.each(['rsa-sha256', 'ed25519-sha256'] as const)(
    '%s: the sink gets a signature that verifies',
    async (algorithm) => {
      const { dkim, records } = await keyFor(algorithm);
      const sink = await startSink();
      cleanups.push(() => sink.stop());
      const { relay } = await relayTo(sink.port, dkim);
      await sendRaw(relay.ports.smtp ?? 0, {
        from: 'alice@example.com',
        to: [{ address: 'bob@one.test' }],
        message: message('Hello Bob.\r\n..a line that starts with a dot\r\n'),
      });
      const bytes = await received(sink, 'a line that starts with a dot');
      expect(bytes.toString('latin1')).toMatch(
        new RegExp(
          `^DKIM-Signature: v=1; a=${algorithm}; c=relaxed/relaxed; d=example.com;[^]*? s=mail2026;`,
        ),
      );
      expect(verifyWithPythonDkim(bytes, records)).toBe('pass');
      expect(await verifyWithMailauth(bytes, records)).toBe('pass');
    },
  );

  it('signs the 7-bit form of an 8-bit message, so the signature holds at a hop without 8BITMIME', async () => {
    const { dkim, records } = await keyFor('rsa-sha256');
    const sink = await startSink(['-8']);
    cleanups.push(() => sink.stop());
    const { relay } = await relayTo(sink.port, dkim);
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'alice@example.com',
      fromArgs: 'BODY=8BITMIME',
      to: [{ address: 'bob@one.test' }],
      message: Buffer.concat([
        message(
          'Grüße aus Köln\r\nlast line\r\n',
          'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n',
        ),
      ]),
    });
    const [got] = await sink.waitFor((m) => m.text.includes('last line'), 'the message at the 7-bit sink');
    const bytes = Buffer.from(got?.text ?? '', 'latin1');
    expect(got?.mailArgs).not.toContain('BODY=8BITMIME');
    expect(bytes.toString('latin1')).toContain('Content-Transfer-Encoding: quoted-printable');
    expect(bytes.some((byte) => byte > 127)).toBe(false);
    expect(verifyWithPythonDkim(bytes, records)).toBe('pass');
  });

  it('signs the 7-bit form of a 2 MiB 8-bit message (streamed twice: to find the 8-bit part, to convert it)', async () => {
    const { dkim, records } = await keyFor('rsa-sha256');
    const sink = await startSink(['-8']);
    cleanups.push(() => sink.stop());
    const { relay } = await relayTo(sink.port, dkim);
    const line = 'Grüße aus Köln, äöü ÄÖÜ ß — ein längerer Absatz\r\n';
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'alice@example.com',
      fromArgs: 'BODY=8BITMIME',
      to: [{ address: 'bob@one.test' }],
      message: message(
        `${line.repeat(Math.ceil((2 * 1024 * 1024) / Buffer.byteLength(line)))}the end\r\n`,
        'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n',
      ),
    });
    const bytes = await received(sink, 'the end');
    expect(bytes.some((byte) => byte > 127)).toBe(false);
    expect(bytes.toString('latin1')).toContain('Content-Transfer-Encoding: quoted-printable');
    expect(verifyWithPythonDkim(bytes, records)).toBe('pass');
  }, 60_000);

  it('signs a 10 MiB message, streamed', async () => {
    const { dkim, records } = await keyFor('rsa-sha256');
    const sink = await startSink();
    cleanups.push(() => sink.stop());
    const { relay } = await relayTo(sink.port, dkim);
    const line = `${'0123456789abcdef'.repeat(4)}\r\n`;
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'alice@example.com',
      to: [{ address: 'bob@one.test' }],
      message: message(`${line.repeat(Math.ceil((10 * 1024 * 1024) / line.length))}the end\r\n`),
    });
    const bytes = await received(sink, 'the end');
    // 10 MiB less the CRs of its lines (smtp-sink dumps with bare LF).
    expect(bytes.length).toBeGreaterThan(10_000_000);
    expect(verifyWithPythonDkim(bytes, records)).toBe('pass');
  }, 60_000);

  it('sends the same signature after a 4xx retry', async () => {
    const { dkim, records } = await keyFor('ed25519-sha256');
    const port = await freePort();
    // The first hop refuses RCPT with 450 (smtp-sink -r RCPT): the message waits for a retry.
    const refusing = startExternal('/usr/sbin/smtp-sink', [
      '-u',
      'nobody',
      '-r',
      'RCPT',
      `127.0.0.1:${String(port)}`,
      '64',
    ]);
    await waitForPort(port);
    const { relay, root } = await relayTo(port, dkim);
    const queued = await sendRaw(relay.ports.smtp ?? 0, {
      from: 'alice@example.com',
      to: [{ address: 'bob@one.test' }],
      message: message('Retry me.\r\n'),
    });
    const id = /queued as (\S+)/.exec(queued)?.[1] ?? '';
    const stateFile = join(root, 'spool', 'queue', `${id}.state.json`);
    const signature = await eventually(async () => {
      const state = JSON.parse(await readFile(stateFile, 'utf8').catch(() => '{}')) as {
        recipients?: { status: string }[];
        dkimSignature?: string;
      };
      return state.recipients?.[0]?.status === 'deferred' ? state.dkimSignature : undefined;
    }, 'a deferral after the 450');
    expect(signature).toMatch(/^DKIM-Signature: /);
    await refusing.stop();

    const sink = await startSink([], port);
    cleanups.push(() => sink.stop());
    const bytes = await received(sink, 'Retry me.');
    // smtp-sink writes its dumps with bare LF line ends.
    const sent = signature.replaceAll('\r\n', '\n');
    expect(bytes.toString('latin1').slice(0, sent.length)).toBe(sent);
    expect(verifyWithPythonDkim(bytes, records)).toBe('pass');
  });
});
