import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEvents } from '../helpers/events.js';
import { startTestServer, type TestServer } from '../helpers/config.js';

/**
 * A large message is indexed from its header block before the 250 and completed right after.
 * The completion is a change a live view must hear about: the events stream sends an
 * `update` frame for it with the summary the full parse gave (snippet, attachments), so the
 * UI does not keep the header-only row until the next reload.
 */
interface Frame {
  readonly Type: string;
  readonly Data: unknown;
}

describe('events: a header-derived row completed after the 250', () => {
  let test: TestServer;
  let base: string;

  beforeAll(async () => {
    test = await startTestServer((raw) => {
      raw.mode = 'capture';
      raw.http = { enabled: true, port: 0 };
      raw.listeners = [
        { name: 'smtp', role: 'relay', port: 0, host: '127.0.0.1', tls: 'none', policy: 'relay' },
      ];
    });
    base = `http://127.0.0.1:${String(test.server.http?.port())}`;
  });
  afterAll(async () => {
    await test.close();
  });

  it('sends new at the 250 and update with the body-derived fields once the full parse is in', async () => {
    const { socket, frames } = await openEvents<Frame>(base);
    const frameOf = (type: string): Promise<Frame> =>
      new Promise((resolve, reject) => {
        const found = (): Frame | undefined => frames.find((f) => f.Type === type);
        const already = found();
        if (already) {
          resolve(already);
          return;
        }
        const timer = setTimeout(() => {
          socket.off('message', check);
          reject(new Error(`no ${type} frame; got ${JSON.stringify(frames.map((f) => f.Type))}`));
        }, 10_000);
        const check = (): void => {
          const frame = found();
          if (!frame) return;
          clearTimeout(timer);
          socket.off('message', check);
          resolve(frame);
        };
        socket.on('message', check);
      });

    // Over the 256 KiB parsed before the reply: the row starts from the header block.
    const body = `first words of a long body\n${'filler line of a large message\n'.repeat(12_000)}`;
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: test.port('smtp') });
    const info = await transport.sendMail({
      from: 'a@example.com',
      to: 'b@local.test',
      subject: 'Large',
      text: body,
      attachments: [{ filename: 'notes.txt', content: 'attached' }],
    });
    transport.close();
    const id = /queued as ([0-9A-Z]{17})/.exec(info.response)?.[1];

    const added = (await frameOf('new')).Data as { ID: string; Snippet: string; Attachments: number };
    expect(added.ID).toBe(id);
    expect(added.Snippet).toBe('');
    const updated = (await frameOf('update')).Data as {
      ID: string;
      Read: boolean;
      Subject: string;
      Snippet: string;
      Attachments: number;
    };
    expect(updated).toMatchObject({ ID: id, Read: false, Subject: 'Large', Attachments: 1 });
    expect(updated.Snippet).toMatch(/^first words of a long body/);
    socket.close();
  });
});
