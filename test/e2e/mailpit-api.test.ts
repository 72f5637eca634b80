import { MailpitClient } from 'mailpit-api';
import nodemailer from 'nodemailer';
import { openEvents } from '../helpers/events.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMailwharf, type Mailwharf } from '../../src/index.js';

/**
 * The Mailpit API as the npm `mailpit-api` client (written by others) speaks it: if these
 * pass, that client works against mailwharf unchanged.
 */
describe('Mailpit-compatible API through the mailpit-api client', () => {
  let mail: Mailwharf;
  let client: MailpitClient;
  let base: string;

  beforeAll(async () => {
    mail = await startMailwharf({ config: { http: { enabled: true, port: 0 }, faults: { enabled: true } } });
    base = `http://127.0.0.1:${String(mail.server.http?.port())}`;
    client = new MailpitClient(base);
  });
  afterAll(async () => {
    await mail.stop();
  });
  beforeEach(async () => {
    await client.deleteMessages();
  });

  const smtp = () => nodemailer.createTransport({ host: '127.0.0.1', port: mail.ports.smtp ?? 0 });

  async function sendThree(): Promise<void> {
    await smtp().sendMail({
      from: 'Alice <alice@example.com>',
      to: 'bob@example.org',
      subject: 'Quarterly report',
      text: 'Numbers attached',
      attachments: [{ filename: 'report.csv', content: 'a,b\n1,2\n' }],
    });
    await smtp().sendMail({
      from: 'carol@example.com',
      to: 'dave@example.org',
      cc: 'erin@example.org',
      subject: 'Lunch?',
      text: 'Tacos at noon',
    });
    await smtp().sendMail({
      from: 'alice@example.com',
      to: 'frank@example.org',
      subject: 'Hello Frank',
      html: '<p>Hi <b>Frank</b></p>',
    });
    await client.waitForMessages({ count: 3, exact: true }, { timeout: 5000, interval: 50 });
  }

  it('lists newest first with Mailpit field names, and pages', async () => {
    await sendThree();
    const list = await client.listMessages();
    expect(list.total).toBe(3);
    expect(list.unread).toBe(3);
    expect(list.messages_count).toBe(3);
    expect(list.messages.map((m) => m.Subject)).toEqual(['Hello Frank', 'Lunch?', 'Quarterly report']);
    const report = list.messages[2];
    expect(report).toMatchObject({
      From: { Name: 'Alice', Address: 'alice@example.com' },
      To: [{ Name: '', Address: 'bob@example.org' }],
      Cc: [],
      Read: false,
      Attachments: 1,
      Snippet: 'Numbers attached',
      Tags: [],
    });
    expect(report?.ID).toMatch(/^[0-9A-Z]{17}$/);
    const page = await client.listMessages(1, 1);
    expect(page.start).toBe(1);
    expect(page.messages.map((m) => m.Subject)).toEqual(['Lunch?']);
  });

  it('searches with several filters', async () => {
    await sendThree();
    const subjects = async (query: string) =>
      (await client.searchMessages({ query })).messages.map((m) => m.Subject);
    expect(await subjects('from:alice@example.com')).toEqual(['Hello Frank', 'Quarterly report']);
    expect(await subjects('from:alice has:attachment')).toEqual(['Quarterly report']);
    expect(await subjects('cc:erin')).toEqual(['Lunch?']);
    expect(await subjects('subject:"quarterly report"')).toEqual(['Quarterly report']);
    expect(await subjects('-from:alice')).toEqual(['Lunch?']);
    expect(await subjects('tacos')).toEqual(['Lunch?']);
    expect(await subjects('report.csv')).toEqual(['Quarterly report']);
    expect(await subjects('is:unread smaller:1M')).toHaveLength(3);
    expect(await subjects('larger:100M')).toEqual([]);
    expect(await subjects(`after:2000-01-01 before:2999-01-01 to:frank`)).toEqual(['Hello Frank']);
  });

  it('headers and raw source of a message with no body: exactly its own, nothing of what the spool keeps after it', async () => {
    await smtp().sendMail({
      envelope: { from: 'a@example.com', to: ['b@example.org'] },
      raw: 'From: a@example.com\r\nSubject: headers only\r\n',
    });
    const { id } = await mail.waitForMessage({ subject: 'headers only' });
    await expect
      .poll(async () => Object.keys(await client.getMessageHeaders(id).catch(() => ({}))).sort())
      .toEqual(['From', 'Received', 'Subject']);
    const raw = await (await fetch(`${base}/api/v1/message/${id}/raw`)).text();
    expect(raw).toMatch(/^Received: /);
    expect(raw.endsWith('From: a@example.com\r\nSubject: headers only\r\n')).toBe(true);
  });

  it('gets a message (marking it read), its headers, raw source and an attachment part', async () => {
    await sendThree();
    const found = await client.searchMessages({ query: 'subject:Quarterly' });
    const id = found.messages[0]?.ID ?? '';
    const message = await client.getMessageSummary(id);
    expect(message.Subject).toBe('Quarterly report');
    expect(message.Text.trim()).toBe('Numbers attached');
    expect(message.Attachments).toHaveLength(1);
    expect(message.Attachments[0]).toMatchObject({
      FileName: 'report.csv',
      ContentType: 'text/csv',
      Size: 8,
    });
    expect((await client.listMessages()).unread).toBe(2);

    const headers = await client.getMessageHeaders(id);
    expect(headers.Subject).toEqual(['Quarterly report']);
    expect(headers['Message-Id']?.[0]).toMatch(/^<.+>$/);
    expect(headers.Received?.[0]).toMatch(/^from .* by localhost \(mailwharf\) with ESMTP id /);

    const raw = await client.getMessageSource(id);
    expect(raw).toMatch(/^Received: /);
    expect(raw).toContain('Subject: Quarterly report');

    const part = await client.getMessageAttachment(id, message.Attachments[0]?.PartID ?? '');
    expect(await part.text()).toBe('a,b\n1,2\n');

    const latest = await client.getMessageSummary();
    expect(latest.Subject).toBe('Hello Frank');
    expect(latest.HTML).toContain('<b>Frank</b>');
  });

  it('sets read status by IDs, by search and for all', async () => {
    await sendThree();
    const ids = (await client.listMessages()).messages.map((m) => m.ID);
    expect(await client.setReadStatus({ IDs: [ids[0] ?? ''], Read: true })).toBe('ok');
    expect((await client.listMessages()).unread).toBe(2);
    await client.setReadStatus({ Search: 'from:carol', Read: true });
    expect((await client.listMessages()).unread).toBe(1);
    await client.setReadStatus({ Read: true });
    expect((await client.listMessages()).unread).toBe(0);
    await client.setReadStatus({ Read: false });
    expect((await client.listMessages()).unread).toBe(3);
  });

  it('deletes by IDs, by search and all', async () => {
    await sendThree();
    const ids = (await client.listMessages()).messages.map((m) => m.ID);
    await client.deleteMessages({ IDs: [ids[0] ?? ''] });
    expect((await client.listMessages()).total).toBe(2);
    await client.deleteMessagesBySearch({ query: 'from:carol' });
    expect((await client.listMessages()).messages.map((m) => m.Subject)).toEqual(['Quarterly report']);
    await client.deleteMessages();
    const empty = await client.listMessages();
    expect(empty.messages).toEqual([]);
    expect(empty.tags).toEqual([]);
  });

  it('sets, lists, searches, renames and deletes tags (kept in the index)', async () => {
    await sendThree();
    const list = await client.listMessages();
    const [frank, lunch] = list.messages;
    if (!frank || !lunch) throw new Error('expected messages');
    expect(await client.setTags({ IDs: [frank.ID, lunch.ID], Tags: ['Urgent', 'team/a', 'Urgent'] })).toBe(
      'ok',
    );
    expect(await client.getTags()).toEqual(['teama', 'Urgent']);
    expect((await client.searchMessages({ query: 'tag:urgent' })).messages.map((m) => m.Subject)).toEqual([
      'Hello Frank',
      'Lunch?',
    ]);
    expect((await client.getMessageSummary(frank.ID)).Tags).toEqual(['teama', 'Urgent']);
    expect(await client.renameTag('Urgent', 'Later')).toBe('ok');
    expect((await client.searchMessages({ query: 'is:tagged tag:later' })).messages).toHaveLength(2);
    expect(await client.deleteTag('teama')).toBe('ok');
    expect(await client.getTags()).toEqual(['Later']);
    // Replacing with none removes them all.
    await client.setTags({ IDs: [frank.ID, lunch.ID] });
    expect(await client.getTags()).toEqual([]);
    expect((await client.listMessages()).messages).toHaveLength(3);
  });

  it('sends through POST /api/v1/send and the message is captured', async () => {
    const sent = await client.sendMessage({
      From: { Email: 'api@example.com', Name: 'API' },
      To: [{ Email: 'someone@example.org' }],
      Bcc: ['hidden@example.org'],
      Subject: 'Sent by API',
      Text: 'plain body',
      HTML: '<p>html body</p>',
      Tags: ['api', 'test'],
      Attachments: [
        {
          Filename: 'hello.txt',
          Content: Buffer.from('hello').toString('base64'),
          ContentType: 'text/plain',
        },
      ],
    });
    expect(sent.ID).toMatch(/^[0-9A-Z]{17}$/);
    const message = await client.waitForMessage(
      { query: 'subject:"Sent by API"' },
      { timeout: 5000, interval: 50 },
    );
    expect(message.From).toEqual({ Name: 'API', Address: 'api@example.com' });
    expect(message.Bcc).toEqual([{ Name: '', Address: 'hidden@example.org' }]);
    expect(message.Tags).toEqual(['api', 'test']);
    expect(message.Attachments[0]?.FileName).toBe('hello.txt');
    expect((await client.searchMessages({ query: 'tag:api' })).messages).toHaveLength(1);
  });

  it('renders the HTML and text views, and answers info and chaos', async () => {
    await sendThree();
    expect((await client.renderMessageHTML()).trim()).toBe('<p>Hi <b>Frank</b></p>');
    const info = await client.getInfo();
    expect(info.Messages).toBe(3);
    await client.setChaosTriggers({ Recipient: { ErrorCode: 451, Probability: 100 } });
    expect((await client.getChaosTriggers()).Recipient).toEqual({ ErrorCode: 451, Probability: 100 });
    await expect(
      smtp().sendMail({ from: 'a@example.com', to: 'b@example.org', subject: 'chaos', text: '.' }),
    ).rejects.toThrow(/451/);
    await client.setChaosTriggers({});
    expect((await client.getChaosTriggers()).Recipient.Probability).toBe(0);
  });

  it('answers unknown IDs with 404, like Mailpit', async () => {
    await expect(client.getMessageSummary('0000000000000000X')).rejects.toThrow(/404/);
    await expect(client.searchMessages({ query: '' })).rejects.toThrow(/400/);
  });

  it('tells WebSocket listeners about new, update, delete and truncate, with stats', async () => {
    const { socket, frames } = await openEvents<{ Type: string; Data: unknown }>(base);
    const until = async (type: string) => {
      const deadline = Date.now() + 5000;
      while (!frames.some((f) => f.Type === type)) {
        if (Date.now() > deadline)
          throw new Error(`no ${type} event; got ${JSON.stringify(frames.map((f) => f.Type))}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return frames.find((f) => f.Type === type);
    };
    await smtp().sendMail({ from: 'a@example.com', to: 'b@example.org', subject: 'Live', text: '.' });
    const added = (await until('new'))?.Data as { ID: string; Subject: string };
    expect(added.Subject).toBe('Live');
    expect((await until('stats'))?.Data).toMatchObject({ Total: 1, Unread: 1 });
    await client.setReadStatus({ IDs: [added.ID], Read: true });
    expect((await until('update'))?.Data).toEqual({ ID: added.ID, Read: true });
    await client.deleteMessages({ IDs: [added.ID] });
    expect((await until('delete'))?.Data).toEqual({ ID: added.ID });
    await client.deleteMessages();
    await until('truncate');
    socket.close();
  });
});
