import type { Summary } from '../../src/sink/summary.js';
import { testEnvelope } from './envelope.js';

/** A captured message's index row for unit tests: a plain text message of 100 bytes. */
export function testSummary(id: string, fields: Partial<Summary> = {}): Summary {
  return {
    id,
    envelope: testEnvelope(id, 100, { state: 'captured' }),
    messageId: `${id}@example.com`,
    from: { Name: '', Address: 'app@example.com' },
    to: [{ Name: '', Address: 'dev@example.org' }],
    cc: [],
    bcc: [],
    replyTo: [],
    subject: `message ${id}`,
    date: '2026-12-01T01:30:00.000Z',
    created: '2026-12-01T01:30:00.000Z',
    size: 100,
    attachments: [],
    snippet: '',
    tags: [],
    searchText: `body of ${id.toLowerCase()}`,
    complete: true,
    parseError: undefined,
    ...fields,
  };
}
