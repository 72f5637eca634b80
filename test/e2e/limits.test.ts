import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { renderReply, replies } from '../../src/smtp/replies.js';
import { limitsOf, policy, startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe, sendMessage } from '../helpers/smtp-probe.js';

const QUEUED = /^250 2\.0\.0 Ok: queued as [0-9A-Z]{17}$/;

/** A message of exactly `bytes` octets as DATA delivers it, its last CRLF (added by sendMessage) included. */
function messageOf(bytes: number): string {
  const head = 'Subject: sized\r\n\r\n';
  let left = bytes - head.length - 2;
  if (left < 0) throw new Error(`messageOf(${String(bytes)}): too small`);
  let body = '';
  while (left > 78) {
    body += `${'x'.repeat(76)}\r\n`;
    left -= 78;
  }
  return `${head}${body}${'x'.repeat(left)}`;
}

/** Retries `attempt` until it returns a value, or fails at the deadline (no fixed sleeps). */
async function eventually<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${String(timeoutMs)} ms`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

describe('policy limits on the relay listener', () => {
  let mw: TestServer | undefined;
  afterEach(async () => {
    await mw?.close();
    mw = undefined;
  });

  async function greeted(server: TestServer, localAddress = '127.0.0.1'): Promise<SmtpProbe> {
    const probe = await SmtpProbe.connect(server.port('smtp'), { localAddress });
    expect((await probe.read()).code).toBe(220);
    expect((await probe.command('EHLO limits.test')).code).toBe(250);
    return probe;
  }

  it('EHLO advertises SIZE <maxMessageSize>; MAIL with SIZE= above it is 552 5.3.4', async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'relay').maxMessageSize = 2000;
    });
    const probe = await SmtpProbe.connect(mw.port('smtp'));
    await probe.read();
    const ehlo = await probe.command('EHLO limits.test');
    expect(ehlo.lines.filter((line) => /^250[- ]SIZE\b/.test(line))).toEqual([
      expect.stringMatching(/^250[- ]SIZE 2000$/),
    ]);
    const tooBig = await probe.command('MAIL FROM:<a@local.test> SIZE=2001');
    expect(tooBig.last).toBe(renderReply(replies.messageTooBigForSize));
    expect(tooBig.last).toMatch(/^552 5\.3\.4 /);
    expect((await probe.command('MAIL FROM:<a@local.test> SIZE=2000')).last).toBe('250 2.1.0 Accepted');
    probe.close();
  });

  it('a message streamed past the limit (no SIZE=) is 552 5.3.4 and leaves nothing in queue/ or tmp/', async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'relay').maxMessageSize = 10_000;
    });
    const probe = await greeted(mw);
    // Nothing is committed before the check: the delivery worker stages its state files
    // in tmp/ too, so only an untouched spool makes "tmp/ is empty" exact.
    const before = await mw.server.spool.list();
    const reply = await sendMessage(probe, 'a@local.test', ['b@local.test'], messageOf(40_000));
    expect(reply.last).toBe(renderReply(replies.messageTooBig));
    expect(reply.last).toMatch(/^552 5\.3\.4 /);
    expect(await mw.server.spool.list()).toEqual(before);
    expect(await readdir(mw.server.spool.tmpDir)).toEqual([]);
    // The session goes on: a message within the limit still passes.
    expect(
      (await sendMessage(probe, 'a@local.test', ['b@local.test'], 'Subject: small\r\n\r\nok')).last,
    ).toMatch(QUEUED);
    probe.close();
  });

  it('the limit is exact: maxMessageSize octets pass, one more is 552 5.3.4', async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'relay').maxMessageSize = 2000;
    });
    const probe = await greeted(mw);
    expect((await sendMessage(probe, 'a@local.test', ['b@local.test'], messageOf(2000))).last).toMatch(
      QUEUED,
    );
    expect((await sendMessage(probe, 'a@local.test', ['b@local.test'], messageOf(2001))).last).toBe(
      renderReply(replies.messageTooBig),
    );
    expect(await mw.server.spool.count()).toBe(1);
    probe.close();
  });

  it('maxRecipients + 1 is 452 4.5.3 Too many recipients; the earlier ones still count', async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'relay').maxRecipients = 3;
    });
    const probe = await greeted(mw);
    expect((await probe.command('MAIL FROM:<a@local.test>')).code).toBe(250);
    for (const n of [1, 2, 3]) {
      expect((await probe.command(`RCPT TO:<r${String(n)}@local.test>`)).last).toBe('250 2.1.5 Accepted');
    }
    const fourth = await probe.command('RCPT TO:<r4@local.test>');
    expect(fourth.last).toBe(renderReply(replies.tooManyRecipients));
    expect(fourth.last).toBe('452 4.5.3 Too many recipients');
    expect((await probe.command('DATA')).code).toBe(354);
    probe.write('Subject: three\r\n\r\nx\r\n.\r\n');
    const queued = await probe.read();
    expect(queued.last).toMatch(QUEUED);
    const [envelope, ...others] = await mw.server.spool.list();
    expect(others).toEqual([]);
    expect(envelope?.rcptTo.map((r) => r.address)).toEqual([
      'r1@local.test',
      'r2@local.test',
      'r3@local.test',
    ]);
    probe.close();
  });

  it('maxConnections (2) exceeded: 421 4.7.0 instead of the greeting, then close; a freed slot is reusable', async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'relay').maxConnections = 2;
      // Both holders trusted: an idle stranger would be closed to make room (stress.test.ts).
      (policy(raw, 'relay').relay as Record<string, unknown>).trustedNetworks = [
        '127.0.0.1/32',
        '127.0.0.2/32',
      ];
    });
    const server = mw;
    const first = await greeted(server);
    const second = await greeted(server, '127.0.0.2');
    const third = await SmtpProbe.connect(server.port('smtp'), { localAddress: '127.0.0.3' });
    const refused = await third.read();
    expect(refused.last).toBe(renderReply(replies.tooManyConnections));
    expect(refused.lines).toEqual(['421 4.7.0 Too many connections, try again later']);
    await third.closedByServer();
    // The refused connection did not take a slot, and a client that leaves frees its one.
    expect((await first.command('QUIT')).code).toBe(221);
    await first.closedByServer();
    const fourth = await eventually('a connection after one left', async () => {
      const probe = await SmtpProbe.connect(server.port('smtp'), { localAddress: '127.0.0.3' });
      const greeting = await probe.read();
      if (greeting.code === 220) return probe;
      probe.close();
      return undefined;
    });
    expect((await fourth.command('NOOP')).code).toBe(250);
    fourth.close();
    second.close();
  });

  it('maxConnectionsPerClient (1): a second connection from 127.0.0.2 is 421 4.7.0 while 127.0.0.3 gets in (trusted 127.0.0.1 is exempt, as mynetworks in Postfix)', async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'relay').maxConnectionsPerClient = 1;
    });
    const server = mw;
    const first = await greeted(server, '127.0.0.2');
    const again = await SmtpProbe.connect(server.port('smtp'), { localAddress: '127.0.0.2' });
    const refused = await again.read();
    expect(refused.last).toBe(renderReply(replies.tooManyConnectionsFromClient));
    expect(refused.last).toMatch(/^421 4\.7\.0 /);
    await again.closedByServer();
    // Another address is not affected, while the first connection is still open.
    const other = await greeted(server, '127.0.0.3');
    expect((await other.command('NOOP')).code).toBe(250);
    expect((await first.command('NOOP')).code).toBe(250);
    // Once the first leaves, 127.0.0.2 may connect again (refusals took no slot).
    expect((await first.command('QUIT')).code).toBe(221);
    await first.closedByServer();
    const back = await eventually('127.0.0.2 after its connection left', async () => {
      const probe = await SmtpProbe.connect(server.port('smtp'), { localAddress: '127.0.0.2' });
      if ((await probe.read()).code === 220) return probe;
      probe.close();
      return undefined;
    });
    back.close();
    other.close();
  });

  it('an idle client is told "421 4.4.2 Idle timeout, closing connection" and disconnected', async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'relay').idleTimeoutSeconds = 1;
    });
    const probe = await greeted(mw);
    const idleSince = Date.now();
    const reply = await probe.read(5000);
    expect(reply.last).toBe('421 4.4.2 Idle timeout, closing connection');
    expect(reply.last).toBe(renderReply(replies.idleTimeout));
    expect(Date.now() - idleSince).toBeGreaterThanOrEqual(900);
    await probe.closedByServer();
  });

  it('an idle timeout in the middle of DATA keeps nothing, not even in tmp/', async () => {
    mw = await startTestServer((raw) => {
      limitsOf(raw, 'relay').idleTimeoutSeconds = 1;
    });
    const server = mw;
    const probe = await greeted(server);
    expect((await probe.command('MAIL FROM:<a@local.test>')).code).toBe(250);
    expect((await probe.command('RCPT TO:<b@local.test>')).code).toBe(250);
    expect((await probe.command('DATA')).code).toBe(354);
    probe.write('Subject: never finished\r\n\r\nhalf a message');
    expect((await probe.read(5000)).last).toBe(renderReply(replies.idleTimeout));
    await probe.closedByServer();
    await eventually('tmp/ emptied after the abandoned DATA', async () =>
      (await readdir(server.server.spool.tmpDir)).length === 0 ? true : undefined,
    );
    expect(await server.server.spool.list()).toEqual([]);
  });

  it('the idle timeout defaults to 5 minutes (RFC 5321 §4.5.3.2), not the library 60 s', async () => {
    mw = await startTestServer((raw) => {
      delete limitsOf(raw, 'relay').idleTimeoutSeconds;
    });
    expect(mw.config.policies.relay?.limits.idleTimeoutSeconds).toBe(300);
  });
});

describe('a full disk under the spool', () => {
  let mountpoint: string | undefined;
  let mounted = false;
  let mw: TestServer | undefined;

  beforeAll(async () => {
    mountpoint = await mkdtemp(join(tmpdir(), 'mailwharf-full-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=200k', 'tmpfs', mountpoint], { stdio: 'pipe' });
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new Error(
        `disk-full test needs a 200 KiB tmpfs, but "mount -t tmpfs -o size=200k tmpfs ${mountpoint}" failed ` +
          `(run the tests as root, or in a container with CAP_SYS_ADMIN): ${detail}`,
      );
    }
    mounted = true;
    await mkdir(join(mountpoint, 'spool'));
  });

  afterAll(async () => {
    await mw?.close();
    if (mountpoint) {
      if (mounted) execFileSync('umount', [mountpoint]);
      await rm(mountpoint, { recursive: true, force: true });
    }
  });

  it('a message bigger than the free space is 452 4.3.1; nothing listed, tmp/ empty, small mail still fits', async () => {
    const spoolDir = join(mountpoint ?? '', 'spool');
    mw = await startTestServer((raw) => {
      raw.spool = { dir: spoolDir };
    });
    expect(mw.server.spool.dir).toBe(spoolDir);
    const probe = await SmtpProbe.connect(mw.port('smtp'));
    expect((await probe.read()).code).toBe(220);
    await probe.command('EHLO full.test');
    // ~400 KiB: under maxMessageSize (1 MiB), twice the size of the file system.
    const reply = await sendMessage(probe, 'a@local.test', ['b@local.test'], messageOf(400 * 1024));
    expect(reply.last).toBe('452 4.3.1 Insufficient system storage');
    expect(reply.last).toBe(renderReply(replies.diskFull));
    expect(await mw.server.spool.list()).toEqual([]);
    expect(await readdir(mw.server.spool.tmpDir)).toEqual([]);
    // The partial file is gone, so there is room again: the session and the spool still work.
    expect(
      (await sendMessage(probe, 'a@local.test', ['b@local.test'], 'Subject: small\r\n\r\nfits')).last,
    ).toMatch(QUEUED);
    expect(await mw.server.spool.count()).toBe(1);
    probe.close();
  });
});

describe('mail loops', () => {
  it('a message that already has 50 Received headers is refused 554 5.4.6', async () => {
    const mw = await startTestServer();
    try {
      const probe = await SmtpProbe.connect(mw.port('smtp'));
      await probe.read();
      await probe.command('EHLO loop.test');
      const hops = (n: number) => 'Received: from a by b; Sun, 22 Nov 2026 00:00:00 +0000\r\n'.repeat(n);
      expect(
        (await sendMessage(probe, 'a@local.test', ['b@local.test'], `${hops(49)}Subject: ok\r\n\r\nx`)).code,
      ).toBe(250);
      expect(
        (await sendMessage(probe, 'a@local.test', ['b@local.test'], `${hops(50)}Subject: loop\r\n\r\nx`))
          .last,
      ).toBe(renderReply(replies.tooManyHops));
      probe.close();
    } finally {
      await mw.close();
    }
  });
});
