import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { pino, type Logger } from 'pino';
import { validateConfig } from '../../src/config/load.js';
import type { Resolver } from '../../src/delivery/routes.js';
import { parseState, type DeliveryState } from '../../src/delivery/state.js';
import { createServer, type MailwharfServer } from '../../src/index.js';

/** A relay whose route is the given smarthost (or MX with a resolver), with tiny retry times. */
export async function startRelay(
  route: Record<string, unknown>,
  options: {
    resolver?: Resolver;
    retry?: Record<string, unknown>;
    /** Other delivery settings, e.g. delayWarningSeconds. */
    delivery?: Record<string, unknown>;
    extra?: Record<string, unknown>;
    /** The relay's logger (silent unless given). */
    logger?: Logger;
  } = {},
): Promise<{ relay: MailwharfServer; root: string; close: () => Promise<void> }> {
  // close() stops the relay (idempotent) and removes its files.
  const root = await mkdtemp(join(tmpdir(), 'mailwharf-relay-'));
  const config = validateConfig(
    {
      hostname: 'relay.test',
      mode: 'relay',
      spool: { dir: join(root, 'spool') },
      tls: { selfSignedDir: join(root, 'certs') },
      log: { level: 'silent' },
      shutdownGraceSeconds: 2,
      delivery: {
        route,
        retry: { firstRetrySeconds: 0.2, maxRetrySeconds: 0.4, giveUpAfterSeconds: 600, ...options.retry },
        pollSeconds: 0.2,
        connectTimeoutSeconds: 2,
        ...options.delivery,
      },
      policies: { relay: { auth: 'none', relay: { trustedNetworks: ['127.0.0.0/8'] } } },
      listeners: [{ name: 'smtp', role: 'relay', port: 0, host: '127.0.0.1', tls: 'none', policy: 'relay' }],
      ...options.extra,
    },
    'relay test config',
  );
  const relay = await createServer(config, {
    logger: options.logger ?? pino({ level: 'silent' }),
    ...(options.resolver ? { resolver: options.resolver } : {}),
  });
  await relay.start();
  return {
    relay,
    root,
    close: async () => {
      await relay.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

export function submit(
  relay: MailwharfServer,
  mail: {
    from: string;
    to: string | string[];
    subject: string;
    text?: string;
    envelope?: { from: string; to: string[] };
  },
) {
  return nodemailer
    .createTransport({ host: '127.0.0.1', port: relay.ports.smtp ?? 0, ignoreTLS: true })
    .sendMail({ text: 'relayed body', ...mail });
}

/**
 * A resolver answering MX from `resolveMx` and nothing else (no MTA-STS record, no address):
 * for tests whose MX answers are address literals.
 */
export function mxOnly(resolveMx: Resolver['resolveMx']): Resolver {
  const none = (name: string) =>
    Promise.reject(Object.assign(new Error(`no ${name}`), { code: 'ENOTFOUND' }));
  return { resolveMx, resolveTxt: none, resolveAddresses: none };
}

/** Polls a condition with a deadline (delivery is asynchronous by nature). */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Resolves once the relay's queue is empty (every message delivered or given up). */
export function queueEmpty(relay: MailwharfServer): Promise<true> {
  return eventually(
    async () => ((await relay.spool.list()).length === 0 ? true : undefined),
    'the relay queue to empty',
  );
}

/** Each queued message with its delivery state (undefined before its first attempt ends). */
export async function queuedStates(
  relay: MailwharfServer,
): Promise<{ readonly rcpt: string | undefined; readonly state: DeliveryState | undefined }[]> {
  const found = [];
  for (const envelope of await relay.spool.list()) {
    const text = await relay.spool.readState(envelope.id);
    found.push({
      rcpt: envelope.rcptTo[0]?.address,
      state: text === undefined ? undefined : parseState(text),
    });
  }
  return found;
}

/** The delivery state of the queued message for `rcpt` once `accept` holds. */
export function stateOf(
  relay: MailwharfServer,
  rcpt: string,
  accept: (state: DeliveryState) => boolean,
): Promise<DeliveryState> {
  return eventually(async () => {
    for (const { rcpt: to, state } of await queuedStates(relay)) {
      if (to === rcpt && state && accept(state)) return state;
    }
    return undefined;
  }, `the state of the message to ${rcpt}`);
}

/** The delivery state of the first queued message once `accept` holds for it. */
export function firstState(
  relay: MailwharfServer,
  accept: (state: DeliveryState) => boolean,
  what: string,
): Promise<DeliveryState> {
  return eventually(async () => {
    const [envelope] = await relay.spool.list();
    const text = envelope ? await relay.spool.readState(envelope.id) : undefined;
    const state = text === undefined ? undefined : parseState(text);
    return state && accept(state) ? state : undefined;
  }, what);
}
