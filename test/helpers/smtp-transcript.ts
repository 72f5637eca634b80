import { SMTPServer, type SMTPServerError } from 'smtp-server';

/** A reply the receiver gives instead of accepting a MAIL or RCPT. */
export interface Refusal {
  readonly code: number;
  readonly text: string;
}

/**
 * Decides a refusal by the transaction's number on its connection (1 for the first MAIL),
 * so a test knows which transaction is refused whichever message it carries.
 */
export type RefusalRule = (transaction: number, command: 'MAIL' | 'RCPT') => Refusal | undefined;

export interface TranscriptReceiver {
  readonly port: number;
  /** Each connection's conversation in order: "C: <command>" (the data as "C: <data>") and "S: <reply>". */
  sessions(): string[][];
  stop(): Promise<void>;
}

interface LogEntry {
  readonly tnx?: string;
  readonly cid?: string;
}

/**
 * A receiving MTA (a real smtp-server on loopback, PIPELINING offered) that records every
 * command and reply of every connection, from smtp-server's own protocol log.
 */
export async function startTranscriptReceiver(port: number, refuse: RefusalRule = () => undefined) {
  const conversations = new Map<string, string[]>();
  const record = (entry: LogEntry, line: string): void => {
    if (entry.cid === undefined) return;
    const lines = conversations.get(entry.cid) ?? [];
    lines.push(line);
    conversations.set(entry.cid, lines);
  };
  const transactions = new Map<string, number>();
  const refusal = (found: Refusal | undefined): SMTPServerError | null =>
    found ? Object.assign(new Error(found.text), { responseCode: found.code }) : null;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: {
      debug(entry: LogEntry, _marker: string, line: unknown) {
        if (entry.tnx === 'command') record(entry, `C: ${String(line)}`);
        else if (entry.tnx === 'send') record(entry, `S: ${String(line)}`);
        else if (entry.tnx === 'data') record(entry, 'C: <data>');
      },
    },
    onMailFrom(_address, session, callback) {
      const transaction = (transactions.get(session.id) ?? 0) + 1;
      transactions.set(session.id, transaction);
      callback(refusal(refuse(transaction, 'MAIL')));
    },
    onRcptTo(_address, session, callback) {
      callback(refusal(refuse(transactions.get(session.id) ?? 0, 'RCPT')));
    },
    onData(stream, _session, callback) {
      stream.on('end', () => {
        callback();
      });
      stream.resume();
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve();
    });
  });
  const receiver: TranscriptReceiver = {
    port,
    sessions: () => [...conversations.values()].map((lines) => [...lines]),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
  return receiver;
}

/** One transaction of a conversation: RSET came right before its MAIL; it ended with 250 after the data. */
export interface Transaction {
  readonly rsetBefore: boolean;
  readonly delivered: boolean;
}

/** The transactions of one connection's conversation, in order. */
export function transactionsOf(conversation: readonly string[]): Transaction[] {
  const found: { rsetBefore: boolean; delivered: boolean }[] = [];
  let lastCommand = '';
  let afterData = false;
  for (const line of conversation) {
    if (line.startsWith('C: ')) {
      const command = line.slice(3);
      if (/^MAIL FROM:/i.test(command))
        found.push({ rsetBefore: /^RSET$/i.test(lastCommand), delivered: false });
      afterData = command === '<data>';
      lastCommand = command;
    } else if (afterData) {
      const current = found[found.length - 1];
      if (current) current.delivered = line.startsWith('S: 250');
      afterData = false;
    }
  }
  return found;
}
