import type { Courier, OutboundMessage } from '../../src/delivery/courier.js';
import type { Outcome, RecipientResult } from '../../src/delivery/outcome.js';
import type { Recipient } from '../../src/spool/envelope.js';

/** One call the worker made: which message, to whom. */
export interface CourierCall {
  readonly id: string;
  readonly recipients: readonly Recipient[];
}

/**
 * A Courier for tests: answers each recipient from a script (address → outcome, or a
 * function of the attempt number), records every call, and can be made to hang until
 * released. No sockets.
 */
export class FakeCourier implements Courier {
  readonly calls: CourierCall[] = [];
  private readonly attempts = new Map<string, number>();

  constructor(private readonly script: (address: string, attempt: number) => Outcome) {}

  deliver(message: OutboundMessage, recipients: readonly Recipient[]): Promise<RecipientResult[]> {
    this.calls.push({ id: message.envelope.id, recipients });
    return Promise.resolve(
      recipients.map((r) => {
        const attempt = (this.attempts.get(r.address) ?? 0) + 1;
        this.attempts.set(r.address, attempt);
        return { address: r.address, outcome: this.script(r.address, attempt) };
      }),
    );
  }

  stopping(): void {}
  abort(): void {}
  close(): void {}
}
