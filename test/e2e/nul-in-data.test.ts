import { afterEach, describe, expect, it } from 'vitest';
import { renderReply, replies } from '../../src/smtp/replies.js';
import { policy, startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe } from '../helpers/smtp-probe.js';
import { storedBytes } from '../helpers/stored.js';

const QUEUED = /^250 2\.0\.0 Ok: queued as ([0-9A-Z]{17})$/;

/**
 * The smuggling probe: to a next hop that ignores NUL, "\r\n\x00.\r\n" ends DATA and what
 * follows is a second transaction the relay never checked.
 */
const SMUGGLE =
  'Subject: smuggle\r\n\r\nfirst\r\n\x00.\r\nMAIL FROM:<x@evil.example>\r\nRCPT TO:<v@elsewhere.test>\r\nDATA\r\n' +
  'Subject: smuggled\r\n\r\nsecond\r\n\x00.\r\nmid\x00line\r\n';

describe('NUL in the data phase', () => {
  let mw: TestServer | undefined;
  afterEach(async () => {
    await mw?.close();
    mw = undefined;
  });

  async function send(server: TestServer): Promise<string> {
    const probe = await SmtpProbe.connect(server.port('smtp'));
    await probe.read();
    await probe.command('EHLO client.test');
    await probe.command('MAIL FROM:<app@local.test>');
    await probe.command('RCPT TO:<someone@elsewhere.test>');
    expect((await probe.command('DATA')).code).toBe(354);
    probe.write(`${SMUGGLE}.\r\n`);
    const reply = (await probe.read()).last;
    // One transaction: the smuggled commands were message text, nothing else answers.
    expect((await probe.command('NOOP')).code).toBe(250);
    probe.close();
    return reply;
  }

  it('strips NUL by default: the spool (and so the next hop) never sees one', async () => {
    mw = await startTestServer();
    const reply = await send(mw);
    const id = QUEUED.exec(reply)?.[1];
    expect(id).toBeDefined();
    const stored = await storedBytes(mw.server.spool, id ?? '');
    expect(stored.includes(0)).toBe(false);
    expect(stored.toString('latin1')).toContain('first\r\n.\r\nMAIL FROM:<x@evil.example>\r\n');
    expect(stored.toString('latin1')).toContain('midline\r\n');
    expect((await mw.server.spool.list()).length).toBe(1);
  });

  it('refuses the message with 550 5.6.0 under nulBytes: reject, keeping nothing', async () => {
    mw = await startTestServer((raw) => {
      policy(raw, 'relay').nulBytes = 'reject';
    });
    expect(await send(mw)).toBe(renderReply(replies.nulByte));
    expect(await mw.server.spool.list()).toEqual([]);
  });
});
