import type { Envelope } from '../../src/spool/envelope.js';

/** A queued message's envelope for unit tests: one recipient, received on the relay listener. */
export function testEnvelope(id: string, size: number, overrides: Partial<Envelope> = {}): Envelope {
  return {
    version: 1,
    id,
    receivedAt: '2026-12-01T01:30:00.000Z',
    size,
    mailFrom: 'sender@example.com',
    rcptTo: [{ address: 'rcpt@example.org' }],
    smtputf8: false,
    client: { address: '192.0.2.7', port: 40000, helo: 'client.example' },
    listener: { name: 'smtp', role: 'relay', port: 25 },
    state: 'queued',
    ...overrides,
  };
}
