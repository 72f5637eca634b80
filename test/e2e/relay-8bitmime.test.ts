import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { sendRaw, startRelayToSink } from '../helpers/smtp-sink.js';

/**
 * RFC 6152 outbound, against Postfix's smtp-sink: an 8-bit message goes with BODY=8BITMIME
 * to a hop that offers 8BITMIME, and is converted to quoted-printable for one that does not
 * (smtp-sink -8), as Postfix does; never sent raw to a 7-bit server.
 */
describe('relay and 8BITMIME', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const relayToSink = (flags: string[]) => startRelayToSink(flags, cleanups);

  const plain = Buffer.from(
    'Subject: 8bit\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln\r\n',
    'utf8',
  );
  const multipart = Buffer.from(
    [
      'Subject: parts',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Grüße',
      '--b1',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: base64',
      '',
      'AAECAw==',
      '--b1--',
      '',
    ].join('\r\n'),
    'utf8',
  );

  it('declares BODY=8BITMIME to a hop that offers it, and sends the bytes unchanged', async () => {
    const { sink, relay } = await relayToSink([]);
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'sender@relay.test',
      fromArgs: 'BODY=8BITMIME',
      to: [{ address: 'bob@one.test' }],
      message: plain,
    });
    const [message] = await sink.waitFor(() => true, 'the message');
    expect(message?.mailArgs).toMatch(/ BODY=8BITMIME\b/);
    expect(Buffer.from(message?.text ?? '', 'latin1').includes(Buffer.from('Grüße aus Köln', 'utf8'))).toBe(
      true,
    );
  });

  it('converts an 8-bit body to quoted-printable for a hop without 8BITMIME', async () => {
    const { sink, relay } = await relayToSink(['-8']);
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'sender@relay.test',
      fromArgs: 'BODY=8BITMIME',
      to: [{ address: 'bob@one.test' }],
      message: plain,
    });
    const [message] = await sink.waitFor(() => true, 'the message');
    expect(message?.mailArgs).not.toMatch(/BODY=/);
    expect(message?.text).not.toMatch(/[^\x00-\x7f]/); // eslint-disable-line no-control-regex
    expect(message?.text).toMatch(/^Content-Transfer-Encoding: quoted-printable\r?$/m);
    expect(message?.text).not.toMatch(/^Content-Transfer-Encoding: 8bit/m);
    expect(message?.text).toContain('Gr=C3=BC=C3=9Fe aus K=C3=B6ln');
  });

  it('in a multipart, converts the 8-bit part and leaves the base64 part as it is', async () => {
    const { sink, relay } = await relayToSink(['-8']);
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'sender@relay.test',
      fromArgs: 'BODY=8BITMIME',
      to: [{ address: 'bob@one.test' }],
      message: multipart,
    });
    const [message] = await sink.waitFor(() => true, 'the message');
    const text = (message?.text ?? '').replace(/\r?\n/g, '\n');
    expect(text).not.toMatch(/[^\x00-\x7f]/); // eslint-disable-line no-control-regex
    expect(text).toContain(
      '--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nGr=C3=BC=C3=9Fe\n--b1\n',
    );
    expect(text).toContain(
      '--b1\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAECAw==\n--b1--\n',
    );
  });

  it('leaves no 8-bit byte where no encoding applies: "?" in a preamble, an epilogue and a base64 body', async () => {
    const { sink, relay } = await relayToSink(['-8']);
    const stray = Buffer.from(
      [
        'Subject: preamble',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="b1"',
        '',
        'Dies ist eine Nachricht im MIME-Format. Grüße',
        '--b1',
        'Content-Type: text/plain; charset=us-ascii',
        '',
        'plain text',
        '--b1',
        'Content-Type: application/octet-stream',
        'Content-Transfer-Encoding: base64',
        '',
        'AAECéAw==',
        '--b1--',
        'Epilog: Köln',
        '',
      ].join('\r\n'),
      'utf8',
    );
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'sender@relay.test',
      fromArgs: 'BODY=8BITMIME',
      to: [{ address: 'bob@one.test' }],
      message: stray,
    });
    const [message] = await sink.waitFor(() => true, 'the message');
    const text = (message?.text ?? '').replace(/\r?\n/g, '\n');
    expect(text).not.toMatch(/[^\x00-\x7f]/); // eslint-disable-line no-control-regex
    expect(text).toContain('\n\nDies ist eine Nachricht im MIME-Format. Gr????e\n--b1\n');
    expect(text).toContain('base64\n\nAAEC??Aw==\n--b1--\nEpilog: K??ln\n');
    // What a reader shows is unchanged: the text, and the attachment's bytes.
    const [before, after] = await Promise.all([
      simpleParser(stray),
      simpleParser(Buffer.from(text.replace(/\n/g, '\r\n'), 'latin1')),
    ]);
    expect(after.text).toBe(before.text);
    expect(after.attachments.map((a) => a.content.toString('hex'))).toEqual(['00010203']);
  });

  it('converts a message too large to hold in memory (it streams from the spool) to the same text', async () => {
    const { sink, relay } = await relayToSink(['-8']);
    const line = 'Grüße aus Köln, äöü ÄÖÜ ß\r\n';
    const big = Buffer.concat([plain, Buffer.from(`${line.repeat(20_000)}the end\r\n`, 'utf8')]);
    await sendRaw(relay.ports.smtp ?? 0, {
      from: 'sender@relay.test',
      fromArgs: 'BODY=8BITMIME',
      to: [{ address: 'bob@one.test' }],
      message: big,
    });
    const [message] = await sink.waitFor((m) => m.text.trimEnd().endsWith('the end'), 'the whole message');
    const text = message?.text ?? '';
    expect(text).not.toMatch(/[^\x00-\x7f]/); // eslint-disable-line no-control-regex
    const parsed = await simpleParser(Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1'));
    const sent = big.toString('utf8').slice(big.indexOf('\r\n\r\n') + 4);
    expect(parsed.text?.trimEnd()).toBe(sent.replace(/\r\n/g, '\n').trimEnd());
  }, 60_000);
});
