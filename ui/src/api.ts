/**
 * The HTTP API, typed. Every URL is relative, so the UI works under any http.basePath.
 */
export interface Address {
  readonly Name: string;
  readonly Address: string;
}

/** One row of the list (GET /api/v1/messages, /api/v1/search, and "new" events). */
export interface MessageSummary {
  readonly ID: string;
  readonly MessageID: string;
  readonly Read: boolean;
  readonly From: Address;
  readonly To: readonly Address[];
  readonly Cc: readonly Address[];
  readonly Bcc: readonly Address[];
  readonly Subject: string;
  readonly Created: string;
  readonly Tags: readonly string[];
  readonly Size: number;
  readonly Attachments: number;
  readonly Snippet: string;
}

export interface MessagesPage {
  readonly total: number;
  readonly unread: number;
  readonly count: number;
  readonly messages_count: number;
  readonly messages_unread: number;
  readonly start: number;
  readonly messages: readonly MessageSummary[];
}

export interface Attachment {
  readonly PartID: string;
  readonly FileName: string;
  readonly ContentType: string;
  readonly ContentID: string;
  readonly Size: number;
}

export interface Message {
  readonly ID: string;
  readonly MessageID: string;
  readonly From: Address;
  readonly To: readonly Address[];
  readonly Cc: readonly Address[];
  readonly Bcc: readonly Address[];
  readonly ReplyTo: readonly Address[];
  readonly ReturnPath: string;
  readonly Subject: string;
  readonly Date: string;
  readonly Tags: readonly string[];
  readonly Username: string;
  readonly Text: string;
  readonly HTML: string;
  readonly Size: number;
  readonly Inline: readonly Attachment[];
  readonly Attachments: readonly Attachment[];
}

/** What the SMTP session knew (mailwharf's extension). */
export interface EnvelopeFacts {
  readonly MailFrom: string;
  readonly RcptTo: readonly string[];
  readonly Helo: string;
  readonly ClientAddress: string;
  readonly ClientPort: number;
  readonly Listener: string;
  readonly ListenerPort: number;
  readonly TLS: { readonly Version: string; readonly Cipher: string } | null;
  readonly AuthUser: string | null;
  readonly ReceivedAt: string;
  readonly SMTPUTF8: boolean;
}

export type HeaderMap = Readonly<Record<string, readonly string[]>>;

/** The server's answer to a failed request: its status and its plain-text message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function request(path: string, init?: RequestInit): Promise<Response> {
  const response = await fetch(path, { cache: 'no-store', ...init });
  if (!response.ok) {
    const text = (await response.text()).trim();
    throw new ApiError(response.status, text || `${response.status} ${response.statusText}`);
  }
  return response;
}

async function json<T>(path: string, init?: RequestInit): Promise<T> {
  return (await (await request(path, init)).json()) as T;
}

const id = (value: string) => encodeURIComponent(value);

export const urls = {
  html: (messageId: string, remoteImages: boolean) =>
    `view/${id(messageId)}.html${remoteImages ? '?images=1' : ''}`,
  part: (messageId: string, partId: string) => `api/v1/message/${id(messageId)}/part/${id(partId)}`,
  thumb: (messageId: string, partId: string) => `api/v1/message/${id(messageId)}/part/${id(partId)}/thumb`,
  rawDownload: (messageId: string) => `api/v1/message/${id(messageId)}/raw?dl=1`,
};

export function listMessages(start: number, limit: number): Promise<MessagesPage> {
  return json(`api/v1/messages?start=${start}&limit=${limit}`);
}

export function search(query: string, start: number, limit: number): Promise<MessagesPage> {
  return json(`api/v1/search?query=${encodeURIComponent(query)}&start=${start}&limit=${limit}`);
}

/** The whole message; the server marks it read. */
export function getMessage(messageId: string): Promise<Message> {
  return json(`api/v1/message/${id(messageId)}`);
}

export function getHeaders(messageId: string): Promise<HeaderMap> {
  return json(`api/v1/message/${id(messageId)}/headers`);
}

export async function getRaw(messageId: string): Promise<string> {
  return (await request(`api/v1/message/${id(messageId)}/raw`)).text();
}

export function getEnvelope(messageId: string): Promise<EnvelopeFacts> {
  return json(`api/mailwharf/message/${id(messageId)}/envelope`);
}

function send(method: 'PUT' | 'DELETE', path: string, body: unknown): Promise<Response> {
  return request(path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

export async function deleteMessages(ids: readonly string[]): Promise<void> {
  await send('DELETE', 'api/v1/messages', { IDs: ids });
}

/** With no IDs the server deletes every message. */
export async function deleteAll(): Promise<void> {
  await send('DELETE', 'api/v1/messages', {});
}

export async function setRead(ids: readonly string[], read: boolean): Promise<void> {
  await send('PUT', 'api/v1/messages', { IDs: ids, Read: read });
}

/** Marks every message read, or those a search matches. */
export async function markAllRead(query?: string): Promise<void> {
  await send('PUT', 'api/v1/messages', query ? { Search: query, Read: true } : { Read: true });
}

export async function deleteSearch(query: string): Promise<void> {
  await request(`api/v1/search?query=${encodeURIComponent(query)}`, { method: 'DELETE' });
}

export interface Verdict {
  readonly Result: string;
  readonly Comment: string;
}

/** What a receiving MTA would conclude (mailwharf's extension, via mailauth). */
export interface AuthReport {
  readonly Summary: {
    readonly DKIM: string;
    readonly SPF: string;
    readonly DMARC: string;
    readonly ARC: string;
  };
  readonly DKIM: readonly (Verdict & {
    readonly Domain: string;
    readonly Selector: string;
    readonly Algorithm: string;
    readonly Aligned: boolean;
  })[];
  readonly SPF: Verdict & {
    readonly Domain: string;
    readonly ClientAddress: string;
    readonly Sender: string;
  };
  readonly DMARC: Verdict & { readonly Domain: string; readonly Policy: string };
  readonly ARC: Verdict;
  readonly Headers: string;
}

export function getAuth(messageId: string): Promise<AuthReport> {
  return json(`api/mailwharf/message/${id(messageId)}/auth`);
}

export interface LinkCheck {
  readonly Errors: number;
  readonly Links: readonly { readonly URL: string; readonly StatusCode: number; readonly Status: string }[];
}

export function linkCheck(messageId: string, follow: boolean): Promise<LinkCheck> {
  return json(`api/v1/message/${id(messageId)}/link-check${follow ? '?follow=true' : ''}`);
}

export interface WebUiConfig {
  readonly MessageRelay: { readonly Enabled: boolean; readonly AllowedRecipients: string };
  readonly SpamAssassin: boolean;
}

export function webui(): Promise<WebUiConfig> {
  return json('api/v1/webui');
}

/** Replaces the message's tags (Mailpit's PUT /api/v1/tags). */
export async function setTags(messageId: string, tags: readonly string[]): Promise<void> {
  await request('api/v1/tags', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ IDs: [messageId], Tags: tags }),
  });
}

export function allTags(): Promise<readonly string[]> {
  return json('api/v1/tags');
}

/** Relays the message to these recipients (each must be in release.allowedDomains). */
export async function release(messageId: string, to: readonly string[]): Promise<void> {
  await request(`api/v1/message/${id(messageId)}/release`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ To: to }),
  });
}

export interface HtmlCheck {
  readonly Total: { readonly Supported: number; readonly Partial: number; readonly Unsupported: number };
  readonly Warnings: readonly {
    readonly Title: string;
    readonly Category: string;
    readonly URL: string;
    readonly Score: {
      readonly Found: number;
      readonly Supported: number;
      readonly Partial: number;
      readonly Unsupported: number;
    };
  }[];
}

export function htmlCheck(messageId: string): Promise<HtmlCheck> {
  return json(`api/v1/message/${id(messageId)}/html-check`);
}

export interface SpamCheck {
  readonly Error: string;
  readonly IsSpam: boolean;
  readonly Score: number;
  readonly Rules:
    readonly { readonly Name: string; readonly Score: number; readonly Description: string }[] | null;
}

export function spamCheck(messageId: string): Promise<SpamCheck> {
  return json(`api/v1/message/${id(messageId)}/sa-check`);
}
