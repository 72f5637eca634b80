import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';
import { storedText } from '../helpers/stored.js';

/**
 * Accepted is visible even when mailparser cannot read the message (on the old code: 250,
 * then 404 everywhere, never deleted, never counted by retention). Three shapes it refuses.
 */
function manyHeaders(): string {
  let text = 'Subject: many headers\r\nFrom: Odd <odd@example.com>\r\nTo: sink@example.org\r\n';
  for (let n = 0; n < 100_000; n++) text += `X-H${String(n)}: v\r\n`;
  return `${text}\r\nbody\r\n`;
}

function deeplyNested(): string {
  let text = 'Subject: deep\r\n';
  let close = '';
  for (let n = 0; n < 2000; n++) {
    text += `Content-Type: multipart/mixed; boundary="b${String(n)}"\r\n\r\n--b${String(n)}\r\n`;
    close = `\r\n--b${String(n)}--\r\n${close}`;
  }
  return `${text}Content-Type: text/plain\r\n\r\nhi${close}`;
}

function manyParts(): string {
  let text = 'Subject: parts\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n';
  for (let n = 0; n < 20_000; n++) text += `--x\r\nContent-Type: text/plain\r\n\r\npart ${String(n)}\r\n`;
  return `${text}--x--\r\n`;
}

interface List {
  readonly total: number;
  readonly messages: readonly { ID: string; Subject: string; From: { Address: string } }[];
}

describe('a message mailparser cannot read', () => {
  let mail: Mailwharf;
  let base: string;
  const get = (path: string): Promise<Response> => fetch(`${base}${path}`);

  beforeAll(async () => {
    mail = await startMailwharf({
      config: { http: { enabled: true, port: 0 }, sink: { retention: { maxMessages: 4 } } },
    });
    base = `http://127.0.0.1:${String(mail.server.http?.port())}`;
  });
  afterAll(async () => {
    await mail.stop();
  });

  const send = async (raw: string): Promise<string> => {
    const info = await nodemailer
      .createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 })
      .sendMail({ envelope: { from: 'odd@example.com', to: ['sink@example.org'] }, raw });
    const id = /queued as ([0-9A-Z]{17})/.exec(info.response)?.[1];
    if (id === undefined) throw new Error(info.response);
    return id;
  };

  it('is listed, opens, downloads raw, is found by its headers, and counts for retention', async () => {
    await mail.clear();
    const shapes = { 'many headers': manyHeaders(), deep: deeplyNested(), parts: manyParts() };
    const ids: Record<string, string> = {};
    for (const [subject, raw] of Object.entries(shapes)) {
      const id = await send(raw);
      ids[subject] = id;
      // Listed at once, with what its headers say (or its envelope).
      const list = (await (await get('/api/v1/messages')).json()) as List;
      expect(list.messages[0]?.ID).toBe(id);
      expect(list.messages[0]?.Subject).toBe(subject);
      const opened = await get(`/api/v1/message/${id}`);
      expect(opened.status).toBe(200);
      const raw200 = await get(`/api/v1/message/${id}/raw`);
      expect(raw200.status).toBe(200);
      const downloaded = await raw200.text();
      expect(downloaded).toBe(await storedText(mail.server.spool, id, 'utf8'));
      expect(downloaded.endsWith(raw)).toBe(true);
      const found = (await (
        await get(`/api/v1/search?query=${encodeURIComponent(`subject:"${subject}"`)}`)
      ).json()) as List;
      expect(found.messages.map((m) => m.ID)).toEqual([id]);
    }
    expect(mail.messages({ subject: 'many headers' }).map((m) => m.id)).toEqual([ids['many headers']]);
    const envelope = (await (await get(`/api/mailwharf/message/${ids.deep ?? ''}/envelope`)).json()) as {
      ParseError: string;
    };
    expect(envelope.ParseError).toMatch(/Max allowed child nodes exceeded/);

    // Retention keeps 4: two more messages push the two oldest (unparseable) ones out.
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 });
    await transport.sendMail({ from: 'a@example.com', to: 'b@example.org', subject: 'fine 1', text: 'x' });
    await transport.sendMail({ from: 'a@example.com', to: 'b@example.org', subject: 'fine 2', text: 'x' });
    await mail.server.sink?.settled();
    const after = (await (await get('/api/v1/messages')).json()) as List;
    expect(after.messages.map((m) => m.Subject)).toEqual(['fine 2', 'fine 1', 'parts', 'deep']);
    expect(await mail.server.spool.envelope(ids['many headers'] ?? '')).toBeUndefined();
    expect((await get(`/api/v1/message/${ids['many headers'] ?? ''}/raw`)).status).toBe(404);

    // "Delete all" takes the rest, unparseable ones included, files too.
    const deleted = await fetch(`${base}/api/v1/messages`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect(((await (await get('/api/v1/messages')).json()) as List).total).toBe(0);
    // The rows go in the request; the files right after it, in the background.
    await mail.server.sink?.settled();
    expect(await mail.server.spool.count()).toBe(0);
  }, 120_000);

  it('has:inline finds inline parts, message-id: matches a substring (as Mailpit)', async () => {
    await mail.clear();
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 });
    await transport.sendMail({
      from: 'a@example.com',
      to: 'b@example.org',
      subject: 'with inline',
      messageId: '<abc-123.inline@example.com>',
      html: '<img src="cid:logo@x">',
      attachments: [{ filename: 'logo.png', content: Buffer.from('png'), cid: 'logo@x' }],
    });
    await transport.sendMail({ from: 'a@example.com', to: 'b@example.org', subject: 'plain', text: 'x' });
    const subjects = async (query: string) =>
      ((await (await get(`/api/v1/search?query=${encodeURIComponent(query)}`)).json()) as List).messages.map(
        (m) => m.Subject,
      );
    expect(await subjects('has:inline')).toEqual(['with inline']);
    expect(await subjects('-has:inline')).toEqual(['plain']);
    expect(await subjects('message-id:123.inline')).toEqual(['with inline']);
    expect(await subjects('message-id:<abc-123.inline@example.com>')).toEqual(['with inline']);
  });
});
