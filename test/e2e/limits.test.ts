import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { renderReply, replies } from '../../src/smtp/replies.js';
import { limitsOf, startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe, sendMessage } from '../helpers/smtp-probe.js';

describe('policy limits', () => {
  let mw: TestServer | undefined;
  afterEach(async () => {
    await mw?.close();
    mw = undefined;
  });

  async function greeted(server: TestServer, localAddress = '127.0.0.1'): Promise<SmtpProbe> {
    const probe = await SmtpProbe.connect(server.port('smtp'), { localAddress });
    expect((await probe.read()).code).toBe(220);
    await probe.command('EHLO limits.test');
    return probe;
  }

  it('SIZE is advertised; SIZE= over it is 552 5.3.4 at MAIL', async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'relay').maxMessageSize = 2000;
    });
    const probe = await SmtpProbe.connect(mw.port('smtp'));
    await probe.read();
    expect((await probe.command('EHLO limits.test')).lines).toContain('250 SIZE 2000');
    expect((await probe.command('MAIL FROM:<a@local.test> SIZE=2001')).last).toBe(
      renderReply(replies.messageTooBigForSize),
    );
    expect((await probe.command('MAIL FROM:<a@local.test> SIZE=2000')).code).toBe(250);
    probe.close();
  });

  it('a message streamed past the limit is 552 5.3.4 and nothing is kept', async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'relay').maxMessageSize = 10_000;
    });
    const probe = await greeted(mw);
    const big = `Subject: big\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(400);
    expect((await sendMessage(probe, 'a@local.test', ['b@local.test'], big)).last).toBe(
      renderReply(replies.messageTooBig),
    );
    expect(await mw.server.spool.list()).toEqual([]);
    expect(await readdir(mw.server.spool.tmpDir)).toEqual([]);
    // The session is still usable for a message within the limit.
    expect(
      (await sendMessage(probe, 'a@local.test', ['b@local.test'], 'Subject: small\r\n\r\nok')).code,
    ).toBe(250);
    probe.close();
  });

  it('one recipient more than maxRecipients is 452 4.5.3; the earlier ones stand', async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'relay').maxRecipients = 3;
    });
    const probe = await greeted(mw);
    await probe.command('MAIL FROM:<a@local.test>');
    for (const n of [1, 2, 3])
      expect((await probe.command(`RCPT TO:<r${String(n)}@local.test>`)).code).toBe(250);
    expect((await probe.command('RCPT TO:<r4@local.test>')).last).toBe('452 4.5.3 Too many recipients');
    await probe.command('DATA');
    probe.write('Subject: three\r\n\r\nx\r\n.\r\n');
    const id = /queued as (\w+)$/.exec((await probe.read()).last)?.[1] ?? '';
    expect((await mw.server.spool.envelope(id))?.rcptTo.map((r) => r.address)).toEqual([
      'r1@local.test',
      'r2@local.test',
      'r3@local.test',
    ]);
    probe.close();
  });

  it('too many connections in total: 421 4.7.0 instead of the greeting', async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'relay').maxConnections = 2;
    });
    const first = await greeted(mw);
    const second = await greeted(mw, '127.0.0.2');
    const third = await SmtpProbe.connect(mw.port('smtp'), { localAddress: '127.0.0.3' });
    expect((await third.read()).last).toBe(renderReply(replies.tooManyConnections));
    await third.closedByServer();
    first.close();
    second.close();
  });

  it('too many connections from one address: 421 4.7.0, while another address still gets in', async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'relay').maxConnectionsPerClient = 1;
    });
    const first = await greeted(mw);
    const again = await SmtpProbe.connect(mw.port('smtp'));
    expect((await again.read()).last).toBe(renderReply(replies.tooManyConnectionsFromClient));
    await again.closedByServer();
    const other = await greeted(mw, '127.0.0.2');
    expect(other.isClosed).toBe(false);
    first.close();
    other.close();
  });

  it('an idle client is told 421 4.4.2 and disconnected', async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'relay').idleTimeoutSeconds = 0.5;
    });
    const probe = await greeted(mw);
    expect((await probe.read(5000)).last).toBe(renderReply(replies.idleTimeout));
    await probe.closedByServer();
  });

  it('the idle timeout defaults to 5 minutes (RFC 5321 §4.5.3.2), not the library 60 s', async () => {
    mw = await startTestServer((raw) => {
      delete limitsOf(raw, 'relay').idleTimeoutSeconds;
    });
    expect(mw.config.policies.relay?.limits.idleTimeoutSeconds).toBe(300);
  });
});

describe('a full disk', () => {
  let mountpoint: string | undefined;
  let mw: TestServer | undefined;
  afterEach(async () => {
    await mw?.close();
    if (mountpoint) {
      execFileSync('umount', [mountpoint]);
      await rm(mountpoint, { recursive: true, force: true });
    }
  });

  it('answers 452 4.3.1 and leaves nothing partial', async () => {
    mountpoint = await mkdtemp(join(tmpdir(), 'mailwharf-full-'));
    // A 256 KiB tmpfs as the spool (we run as root; CI is the same kind of machine).
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mountpoint]);
    await mkdir(join(mountpoint, 'spool'));
    mw = await startTestServer((raw) => {
      raw.spool = { dir: join(mountpoint ?? '', 'spool') };
    });
    const probe = await SmtpProbe.connect(mw.port('smtp'));
    await probe.read();
    await probe.command('EHLO full.test');
    const big = `Subject: too big for the disk\r\n\r\n${`${'y'.repeat(76)}\r\n`.repeat(6000)}`;
    expect((await sendMessage(probe, 'a@local.test', ['b@local.test'], big)).last).toBe(
      renderReply(replies.diskFull),
    );
    expect(await mw.server.spool.list()).toEqual([]);
    expect(await readdir(mw.server.spool.tmpDir)).toEqual([]);
    // Room again for a small one: the session and the spool still work.
    expect(
      (await sendMessage(probe, 'a@local.test', ['b@local.test'], 'Subject: small\r\n\r\nfits')).code,
    ).toBe(250);
    probe.close();
  });
});
