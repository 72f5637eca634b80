/**
 * The JSON shapes our API answers with, as OpenAPI 3 schemas: Mailpit's names and fields
 * (its internal/storage/structs.go) plus our extensions' own.
 */
type Schema = Readonly<Record<string, unknown>>;

const string = { type: 'string' } as const;
const integer = { type: 'integer' } as const;
const boolean = { type: 'boolean' } as const;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const list = (items: Schema) => ({ type: 'array', items });
const object = (properties: Readonly<Record<string, Schema>>): Schema => ({ type: 'object', properties });

const address = object({ Name: string, Address: string });

const attachment = object({
  PartID: string,
  FileName: string,
  ContentType: string,
  ContentID: string,
  Size: integer,
  Checksums: object({ MD5: string, SHA1: string, SHA256: string }),
});

const summary = object({
  ID: string,
  MessageID: string,
  Read: boolean,
  From: ref('Address'),
  To: list(ref('Address')),
  Cc: list(ref('Address')),
  Bcc: list(ref('Address')),
  ReplyTo: list(ref('Address')),
  Subject: string,
  Created: { type: 'string', format: 'date-time' },
  Tags: list(string),
  Size: integer,
  Attachments: integer,
  Snippet: string,
});

const envelope = object({
  ID: string,
  MailFrom: string,
  RcptTo: list(string),
  Helo: string,
  ClientAddress: string,
  ClientPort: integer,
  Listener: string,
  ListenerPort: integer,
  TLS: { type: 'object', nullable: true, properties: { Version: string, Cipher: string } },
  AuthUser: { type: 'string', nullable: true },
  ReceivedAt: { type: 'string', format: 'date-time' },
  SMTPUTF8: boolean,
  ParseError: { type: 'string', nullable: true },
});

const verdict = { Result: string, Comment: string };

export const schemas: Readonly<Record<string, Schema>> = {
  Address: address,
  SendAddress: object({ Email: string, Name: string }),
  Attachment: attachment,
  MessageSummary: summary,
  MessagesSummary: object({
    total: integer,
    unread: integer,
    count: integer,
    messages_count: integer,
    messages_unread: integer,
    start: integer,
    tags: list(string),
    messages: list(ref('MessageSummary')),
  }),
  Message: object({
    ID: string,
    MessageID: string,
    Read: boolean,
    From: ref('Address'),
    To: list(ref('Address')),
    Cc: list(ref('Address')),
    Bcc: list(ref('Address')),
    ReplyTo: list(ref('Address')),
    ReturnPath: string,
    Subject: string,
    ListUnsubscribe: object({ Header: string, Links: list(string), Errors: string, HeaderPost: string }),
    Date: { type: 'string', format: 'date-time' },
    Tags: list(string),
    Username: string,
    Text: string,
    HTML: string,
    Size: integer,
    Inline: list(ref('Attachment')),
    Attachments: list(ref('Attachment')),
  }),
  MessageHeaders: { type: 'object', additionalProperties: list(string) },
  SelectedMessages: object({ IDs: list(string), Read: boolean, Search: string }),
  SetTags: object({ IDs: list(string), Tags: list(string) }),
  RenameTag: object({ Name: string }),
  ReleaseMessage: object({ To: list(string) }),
  SendMessage: object({
    From: ref('SendAddress'),
    To: list(ref('SendAddress')),
    Cc: list(ref('SendAddress')),
    Bcc: list(string),
    ReplyTo: list(ref('SendAddress')),
    Subject: string,
    Text: string,
    HTML: string,
    Tags: list(string),
    Headers: { type: 'object', additionalProperties: string },
    Attachments: list(object({ Content: string, Filename: string, ContentType: string, ContentID: string })),
  }),
  SendMessageConfirmation: object({ ID: string }),
  AppInformation: object({
    Version: string,
    LatestVersion: string,
    Database: string,
    DatabaseSize: integer,
    Messages: integer,
    Unread: integer,
    Tags: { type: 'object', additionalProperties: integer },
    RuntimeStats: object({
      Uptime: integer,
      Memory: integer,
      MessagesDeleted: integer,
      SMTPAccepted: integer,
      SMTPAcceptedSize: integer,
      SMTPRejected: integer,
      SMTPIgnored: integer,
    }),
  }),
  WebUIConfiguration: object({
    Label: string,
    MessageRelay: object({
      Enabled: boolean,
      SMTPServer: string,
      AllowedRecipients: string,
      BlockedRecipients: string,
      ReturnPath: string,
      OverrideFrom: string,
      PreserveMessageIDs: boolean,
    }),
    SpamAssassin: boolean,
    ChaosEnabled: boolean,
    DuplicatesIgnored: boolean,
    HideDeleteAllButton: boolean,
  }),
  ChaosTriggers: {
    type: 'object',
    additionalProperties: object({ ErrorCode: integer, Probability: integer }),
  },
  HTMLCheckResponse: object({
    Total: { type: 'object' },
    Warnings: list({ type: 'object' }),
  }),
  LinkCheckResponse: object({
    Errors: integer,
    Links: list(object({ URL: string, StatusCode: integer, Status: string })),
  }),
  SpamAssassinResponse: object({
    IsSpam: boolean,
    Score: { type: 'number' },
    Error: string,
    Rules: list(object({ Name: string, Score: { type: 'number' }, Description: string })),
  }),
  Envelope: envelope,
  WaitResult: {
    allOf: [ref('MessageSummary'), object({ Envelope: ref('Envelope') })],
  },
  Extracted: object({ ID: string, Codes: list(string), Links: list(string) }),
  AuthenticationReport: object({
    Summary: object({ DKIM: string, SPF: string, DMARC: string, ARC: string }),
    DKIM: list(object({ ...verdict, Domain: string, Selector: string, Algorithm: string, Aligned: boolean })),
    SPF: object({ ...verdict, Domain: string, ClientAddress: string, Sender: string }),
    DMARC: object({ ...verdict, Domain: string, Policy: string }),
    ARC: object(verdict),
    Headers: string,
  }),
  FaultRule: { type: 'object', description: 'A faults.rules entry, in the config file’s shape' },
};
