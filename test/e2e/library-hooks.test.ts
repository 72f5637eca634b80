import { connect, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { PATCHED_SMTP_SERVER_VERSION } from '../../src/smtp/library-hooks.js';
import { renderReply, replies } from '../../src/smtp/replies.js';
import { policy, startTestServer, type TestServer } from '../helpers/config.js';
import { SmtpProbe } from '../helpers/smtp-probe.js';

/**
 * src/smtp/library-hooks.ts replaces smtp-server internals (the fixed 100 ms greeting
 * pause, enhanced-code derivation). These tests fail loudly if an upgrade breaks that.
 */
describe('smtp-server internals we override', () => {
  let mw: TestServer | undefined;
  afterEach(async () => {
    await mw?.close();
    mw = undefined;
  });

  it('runs against the exact smtp-server version the hooks were written for', () => {
    const require = createRequire(import.meta.url);
    const { version } = require('smtp-server/package.json') as { version: string };
    expect(version).toBe(PATCHED_SMTP_SERVER_VERSION);
  });

  it('greetPauseMs 0: no pause, so a client that speaks at once is answered, not refused', async () => {
    mw = await startTestServer();
    const probe = await SmtpProbe.connect(mw.port('smtp'));
    // Sent before the greeting could be read; with the library's fixed 100 ms pause
    // this would be "421 ... You talk too soon".
    probe.write('EHLO early.test\r\n');
    expect((await probe.read()).code).toBe(220);
    expect((await probe.read()).code).toBe(250);
    probe.close();
  });

  it('greetPauseMs 300: the greeting waits, and an early talker is refused with 421 4.7.0', async () => {
    mw = await startTestServer((raw) => {
      policy(raw, 'relay').greetPauseMs = 300;
    });
    const started = Date.now();
    const patient = await SmtpProbe.connect(mw.port('smtp'));
    expect((await patient.read()).code).toBe(220);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    patient.close();

    const early = await SmtpProbe.connect(mw.port('smtp'));
    early.write('EHLO early.test\r\n');
    expect((await early.read()).last).toBe(renderReply(replies.earlyTalker));
    await early.closedByServer();
  });

  it('renders our reply with our enhanced code, not the one the library derives from 554/550', async () => {
    mw = await startTestServer();
    const probe = await SmtpProbe.connect(mw.port('smtp'), { localAddress: '127.0.0.3' });
    await probe.read();
    await probe.command('EHLO outside.test');
    await probe.command('MAIL FROM:<a@outside.test>');
    // The library alone would say "554 5.6.0 5.7.1 ..." (see SMTP-SERVER-NOTES).
    expect((await probe.command('RCPT TO:<b@elsewhere.test>')).last).toBe('554 5.7.1 Relay access denied');
    probe.close();
  });

  it("closes its socket after QUIT's 221 without waiting for the client's FIN, as Postfix does", async () => {
    mw = await startTestServer();
    // A client that keeps its own end open after the server's FIN. The library alone keeps
    // reading (and discarding) for 5 s; closed at once, the server's end answers any further
    // input with a reset.
    const socket: Socket = connect({ port: mw.port('smtp'), host: '127.0.0.1', allowHalfOpen: true });
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    const ended = new Promise<void>((resolve) => socket.once('end', resolve));
    const reset = new Promise<string>((resolve) => {
      socket.once('error', (error: NodeJS.ErrnoException) => {
        resolve(error.code ?? error.message);
      });
    });
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write('QUIT\r\n');
    await ended;
    expect(received).toMatch(/^220 .*\r\n221 2\.0\.0 /);
    // Until the server's end is gone its kernel takes the input silently: keep sending.
    const nudge = setInterval(() => {
      if (!socket.destroyed) socket.write('NOOP\r\n');
    }, 50);
    const deadline = new Promise<string>((resolve) =>
      setTimeout(() => resolve('still open after 3 s'), 3000),
    );
    try {
      expect(await Promise.race([reset, deadline])).toMatch(/^(ECONNRESET|EPIPE)$/);
    } finally {
      clearInterval(nudge);
      socket.destroy();
    }
  });
});
