import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';
import type { SinkEvent } from '../../src/sink/sink.js';
import { segmentName } from '../../src/spool/journal.js';
import { flipByteOf } from '../helpers/flip-byte.js';
import { queueIdOf } from '../helpers/queue-id.js';

/**
 * A captured message whose journal record the disk damaged: the read that finds it (here the
 * raw download) has the journal quarantine the segment and remove the message. The sink is
 * told through the Spool, so its row goes with the usual delete event: the list no longer
 * offers a message whose bytes are gone, and asking for it is a 404, never a 500.
 */
describe('the sink and a captured message found damaged in the spool', () => {
  let mail: Mailwharf;
  let base: string;

  beforeAll(async () => {
    mail = await startMailwharf({ config: { http: { enabled: true, port: 0 } } });
    base = `http://127.0.0.1:${String(mail.server.http?.port())}`;
  });
  afterAll(async () => {
    await mail.stop();
  });

  async function send(text: string): Promise<string> {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 });
    try {
      const info = await transport.sendMail({
        from: 'a@example.com',
        to: 'b@example.org',
        subject: text,
        text,
      });
      return queueIdOf(info.response);
    } finally {
      transport.close();
    }
  }

  async function listedIds(): Promise<string[]> {
    const response = await fetch(`${base}/api/v1/messages`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { messages: { ID: string }[] }).messages.map((m) => m.ID).sort();
  }

  it('a raw download that finds the damage is a 404 and removes the row, with a delete event', async () => {
    const damaged = await send('DAMAGED-BODY');
    const intact = await send('INTACT-BODY');
    expect(await listedIds()).toEqual([damaged, intact].sort());
    const sink = mail.server.sink;
    if (!sink) throw new Error('no sink');
    const deletes: SinkEvent[] = [];
    const unsubscribe = sink.on((event) => {
      if (event.type === 'delete') deletes.push(event);
    });
    try {
      await flipByteOf(join(mail.config.spool.dir, 'journal', segmentName(1)), 'DAMAGED-BODY', 2);
      const found = await fetch(`${base}/api/v1/message/${damaged}/raw`);
      expect(await found.text()).toBe('Message not found');
      // Found gone on its first read: a 404 as for any message not there (a 500 on the old code).
      expect(found.status).toBe(404);

      expect(deletes).toEqual([{ type: 'delete', ids: [damaged], reason: 'damaged' }]);
      expect(await listedIds()).toEqual([intact]);
      const again = await fetch(`${base}/api/v1/message/${damaged}/raw`);
      expect(again.status).toBe(404);
      expect(await again.text()).toBe('Message not found');
      const other = await fetch(`${base}/api/v1/message/${intact}/raw`);
      expect(other.status).toBe(200);
      expect(await other.text()).toContain('INTACT-BODY');
    } finally {
      unsubscribe();
    }
  });
});
