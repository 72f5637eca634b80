import { afterEach, describe, expect, it } from 'vitest';
import type { Resolver } from '../../src/delivery/routes.js';
import { startMailwharf } from '../../src/index.js';
import { runCli } from '../helpers/process.js';
import { eventually, firstState, mxOnly, startRelay, submit } from '../helpers/relay.js';
import { startSink } from '../helpers/smtp-sink.js';
import { storedText } from '../helpers/stored.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';

/**
 * The fields of a failure DSN (RFC 3464) as the sink receives them: Remote-MTA is a host
 * name, never host:port; only a remote SMTP reply is labelled "smtp;"; a size refusal is
 * 5.3.4; a null MX is X.1.10 (RFC 7505); an operator bounce names no stale Remote-MTA.
 */
describe('DSN details', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function sink(flags: string[] = []) {
    const started = await startSink(flags);
    cleanups.push(() => started.stop());
    return started;
  }

  async function relay(route: Record<string, unknown>, options: Parameters<typeof startRelay>[1] = {}) {
    const started = await startRelay(route, {
      retry: { firstRetrySeconds: 3600, maxRetrySeconds: 3600 },
      ...options,
    });
    cleanups.push(started.close);
    return started;
  }

  const dsnOf = async (s: Awaited<ReturnType<typeof sink>>) =>
    (await s.waitFor((m) => m.mailArgs.startsWith('<>'), 'the DSN'))[0]?.text ?? '';

  it('a 5xx reply: Remote-MTA is the host, Diagnostic-Code the reply labelled smtp', async () => {
    const upstream = await startMailwharf();
    cleanups.push(() => upstream.stop());
    upstream.faults.add({
      stage: 'rcpt',
      recipient: 'user@',
      reply: { code: 550, enhanced: '5.1.1', text: 'No such user' },
    });
    const { relay: r } = await relay({
      type: 'smarthost',
      host: '127.0.0.1',
      port: upstream.ports.smtp,
      tls: 'none',
    });
    await submit(r, { from: 'sender@relay.test', to: 'user@one.test', subject: 'refused' });
    const dsn = await upstream.waitForMessage({ recipient: 'sender@relay.test' }, { timeout: 10_000 });
    const raw = await storedText(upstream.server.spool, dsn.id, 'utf8');
    expect(raw).toMatch(/^Remote-MTA: dns; 127\.0\.0\.1\r$/m);
    expect(raw).toMatch(/^Diagnostic-Code: smtp; 550 5\.1\.1 No such user\r$/m);
    expect(raw).toMatch(/^Status: 5\.1\.1\r$/m);
  });

  it("a message larger than the hop's SIZE: 5.3.4, our text, not labelled smtp", async () => {
    const upstream = await startMailwharf({
      config: { policies: { plain: { limits: { maxMessageSize: 2000 } } } },
    });
    cleanups.push(() => upstream.stop());
    const { relay: r } = await relay({
      type: 'smarthost',
      host: '127.0.0.1',
      port: upstream.ports.smtp,
      tls: 'none',
    });
    await submit(r, {
      from: 'sender@relay.test',
      to: 'user@one.test',
      subject: 'big',
      text: 'x'.repeat(5000),
    });
    // The DSN goes to the same hop, which takes it (headers only: small enough).
    const dsn = await upstream.waitForMessage({ recipient: 'sender@relay.test' }, { timeout: 10_000 });
    const raw = await storedText(upstream.server.spool, dsn.id, 'utf8');
    expect(raw).toMatch(/^Status: 5\.3\.4\r$/m);
    expect(raw).toMatch(
      /^Diagnostic-Code: X-Mailwharf; message size \d+ exceeds size limit of server 127\.0\.0\.1\r$/m,
    );
    expect(raw).toMatch(/^Remote-MTA: dns; 127\.0\.0\.1\r$/m);
    expect(upstream.messages({ subject: 'big' })).toEqual([]);
  });

  it('a null MX: Status 5.1.10, no Remote-MTA, labelled as ours', async () => {
    const s = await sink();
    const resolver: Resolver = mxOnly((domain) =>
      Promise.resolve(
        domain === 'null.test' ? [{ exchange: '', priority: 0 }] : [{ exchange: '127.0.0.1', priority: 10 }],
      ),
    );
    const { relay: r } = await relay({ type: 'mx', port: s.port, tls: 'opportunistic' }, { resolver });
    await submit(r, { from: 'sender@relay.test', to: 'user@null.test', subject: 'nowhere' });
    const dsn = await dsnOf(s);
    expect(dsn).toMatch(/^Status: 5\.1\.10\r?$/m);
    expect(dsn).toMatch(/^Diagnostic-Code: X-Mailwharf; domain null\.test accepts no mail \(null MX\)\r?$/m);
    expect(dsn).not.toMatch(/^Remote-MTA:/m);
  });

  it('an operator bounce of a deferred message names no Remote-MTA from the last attempt', async () => {
    const s = await sink(['-r', 'rcpt']);
    const started = await relay({ type: 'smarthost', host: '127.0.0.1', port: s.port, tls: 'none' });
    await submit(started.relay, { from: 'sender@relay.test', to: 'user@one.test', subject: 'stuck' });
    const state = await firstState(
      started.relay,
      (st) => st.recipients[0]?.status === 'deferred',
      'a deferral',
    );
    expect(state.recipients[0]?.outcome?.remoteMta).toBe('127.0.0.1');
    const configPath = join(started.root, 'cli.yaml');
    await writeFile(configPath, stringify({ ...started.relay.config, log: { level: 'silent' } }));
    const [entry] = await started.relay.spool.list();
    const bounced = await runCli(['queue', 'bounce', entry?.id ?? '', '--config', configPath]);
    expect(bounced.stdout).toBe('bounce: handed to the running server\n');
    // smtp-sink -r rcpt defers every RCPT, the DSN's too: read it from the relay's queue.
    const dsnText = await eventually(async () => {
      for (const e of await started.relay.spool.list()) {
        if (e.mailFrom === '') return (await started.relay.spool.readBytes(e)).toString('utf8');
      }
      return undefined;
    }, 'the DSN in the queue');
    expect(dsnText).toMatch(/^Status: 5\.0\.0\r$/m);
    expect(dsnText).toMatch(/^Diagnostic-Code: X-Mailwharf; returned to the sender by the operator\r$/m);
    expect(dsnText).not.toMatch(/^Remote-MTA:/m);
  });
});
