import { connect } from 'node:net';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname } from 'node:path';
import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';

const COUNTED = ['TCPServerWrap', 'TCPWrap', 'Timeout'] as const;
type Counted = (typeof COUNTED)[number];

/** How many of each counted kind of handle currently keeps the event loop alive. */
function activeResources(): Record<Counted, number> {
  const info = process.getActiveResourcesInfo();
  const counts = { TCPServerWrap: 0, TCPWrap: 0, Timeout: 0 };
  for (const kind of COUNTED) counts[kind] = info.filter((name) => name === kind).length;
  return counts;
}

/** Lets pending close callbacks run: a few turns of the event loop, no timers. */
async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

async function fixtureDirs(): Promise<Set<string>> {
  const names = await readdir(tmpdir());
  return new Set(names.filter((name) => name.startsWith('mailwharf-')));
}

async function sendOne(mail: Mailwharf, subject: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 });
  try {
    await transport.sendMail({ from: 'app@example.com', to: 'user@example.org', subject, text: subject });
  } finally {
    transport.close();
  }
}

/** Resolves with the socket error code, or 'connected' if something accepted the connection. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(5000);
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code ?? error.message);
    });
  });
}

describe('startMailwharf lifecycle', () => {
  it('leaves no temp directory, server, socket or timer behind after 20 start/send/stop cycles', async () => {
    await settle();
    const dirsBefore = await fixtureDirs();
    const before = activeResources();
    const created = new Set<string>();

    for (let i = 0; i < 20; i++) {
      const mail = await startMailwharf();
      // The fixture puts its spool at <root>/spool.
      created.add(basename(dirname(mail.config.spool.dir)));
      const subject = `cycle ${String(i)}`;
      await sendOne(mail, subject);
      const message = await mail.waitForMessage({ subject });
      expect(message.envelope.rcptTo.map((r) => r.address)).toEqual(['user@example.org']);
      await mail.stop();
    }

    // Every run had its own directory, named as documented.
    expect(created.size).toBe(20);
    for (const name of created) expect(name).toMatch(/^mailwharf-/);

    await settle();
    const appeared = [...(await fixtureDirs())].filter((name) => !dirsBefore.has(name));
    // Only directories these runs created count (other test files may be running fixtures meanwhile).
    expect(appeared.filter((name) => created.has(name))).toEqual([]);

    const after = activeResources();
    // No more than before (the test runner's own timers may have come and gone meanwhile).
    for (const kind of COUNTED) {
      expect({ kind, excess: Math.max(0, after[kind] - before[kind]) }).toEqual({ kind, excess: 0 });
    }
  });

  it('stop() is idempotent, also after asyncDispose', async () => {
    const mail = await startMailwharf();
    const first = mail.stop();
    const second = mail.stop();
    await Promise.all([first, second]);
    await expect(mail.stop()).resolves.toBeUndefined();
    await expect(mail[Symbol.asyncDispose]()).resolves.toBeUndefined();

    const disposed = await startMailwharf();
    await disposed[Symbol.asyncDispose]();
    await expect(disposed.stop()).resolves.toBeUndefined();
    await expect(disposed[Symbol.asyncDispose]()).resolves.toBeUndefined();
  });

  it('`await using` stops the server at the end of the block: every port refuses connections', async () => {
    let ports: Record<string, number> = {};
    {
      await using mail = await startMailwharf();
      ports = { ...mail.ports };
      await sendOne(mail, 'inside the block');
      await mail.waitForMessage({ subject: 'inside the block' });
      expect(await tryConnect(ports.smtp ?? 0)).toBe('connected');
    }
    expect(Object.keys(ports).sort()).toEqual(['alt-submission', 'smtp', 'submission', 'submissions']);
    for (const [name, port] of Object.entries(ports)) {
      expect({ name, result: await tryConnect(port) }).toEqual({ name, result: 'ECONNREFUSED' });
    }
  });
});
