import type { ServerProcess } from './process.js';
import { SmtpProbe } from './smtp-probe.js';

/**
 * How long a reply may take before the session fails the test: generous, for a loaded 2-core
 * machine; the kill ends a waiting read at once (the connection closes), so it costs nothing.
 */
const REPLY_MS = 30_000;

/** One message of the load: DATA as it goes on the wire (dot-stuffed, with its final "."), and what the test keeps of it. */
export interface LoadMessage<T> {
  readonly data: string;
  readonly kept: T;
}

export interface KilledLoad<T> {
  /** What was kept of every message whose DATA was started, acknowledged or not. */
  readonly sent: readonly T[];
  /** Queue id of each 250 → what was kept of that message. */
  readonly acked: ReadonlyMap<string, T>;
  /** The server was killed (SIGKILL) by the load, not before it reached `killAfter`. */
  readonly killed: boolean;
}

/**
 * Sends from `clients` parallel sessions on raw connections (at most 1,000 messages each)
 * until `killAfter` messages are acknowledged, then kills the server with SIGKILL, so the kill
 * lands mid-load with transactions in every state. A session the kill cuts ends quietly; one
 * that fails before the kill rejects the whole load with its reason.
 */
export async function sendUntilKilled<T>(
  server: ServerProcess,
  load: {
    readonly port: number;
    readonly clients: number;
    readonly killAfter: number;
    readonly message: (client: number, n: number) => LoadMessage<T>;
  },
): Promise<KilledLoad<T>> {
  const sent: T[] = [];
  const acked = new Map<string, T>();
  let killed = false;
  // The server dying under a session is expected; a session failing before the kill (a read
  // timeout on a loaded machine, a refused command) is not, and must fail the test with its reason.
  const afterKill = (index: number, error: unknown): void => {
    if (killed) return;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`load session ${index} failed before the kill: ${reason}`, { cause: error });
  };

  const client = async (index: number): Promise<void> => {
    let probe: SmtpProbe;
    try {
      probe = await SmtpProbe.connect(load.port);
      await probe.read(REPLY_MS);
      await probe.command('EHLO crash.test', REPLY_MS);
    } catch (error) {
      afterKill(index, error);
      return;
    }
    for (let n = 0; !killed && n < 1000; n++) {
      const { data, kept } = load.message(index, n);
      sent.push(kept);
      try {
        await probe.command('MAIL FROM:<load@crash.test>', REPLY_MS);
        await probe.command('RCPT TO:<sink@local.test>', REPLY_MS);
        await probe.command('DATA', REPLY_MS);
        probe.write(data);
        const reply = await probe.read(REPLY_MS);
        const id = /queued as ([0-9A-Z]{17})$/.exec(reply.last)?.[1];
        if (reply.code === 250 && id) acked.set(id, kept);
        if (acked.size >= load.killAfter && !server.child.killed) {
          killed = true;
          server.child.kill('SIGKILL');
        }
      } catch (error) {
        afterKill(index, error);
        return;
      }
    }
    probe.close();
  };

  await Promise.all(Array.from({ length: load.clients }, (_, index) => client(index)));
  return { sent, acked, killed };
}
