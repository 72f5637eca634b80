import { connect } from 'node:net';
import type { Readable } from 'node:stream';

export interface SpamRule {
  readonly Name: string;
  readonly Score: number;
  readonly Description: string;
}

export interface SpamReport {
  readonly Error: string;
  readonly IsSpam: boolean;
  readonly Score: number;
  readonly Rules: readonly SpamRule[] | null;
}

const TIMEOUT_MS = 30_000;

/** "host:port" or "[v6]:port" from config. */
export function spamdAddress(value: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(value);
  if (!match?.[1] || !match[2]) throw new Error(`spamd address must be host:port, got ${value}`);
  return { host: match[1], port: Number(match[2]) };
}

/**
 * The rule table of a SpamAssassin REPORT, after the "---- ----" line:
 *   " 1000 GTUBE  BODY: Generic Test for Unsolicited Bulk Email"
 * with long descriptions wrapped onto indented lines.
 */
export function parseReportRules(report: string): SpamRule[] {
  const lines = report.split(/\r?\n/);
  const start = lines.findIndex((line) => /^\s*-{3,}\s+-{3,}/.test(line));
  const rules: { Name: string; Score: number; Description: string }[] = [];
  for (const line of start < 0 ? [] : lines.slice(start + 1)) {
    const rule = /^\s*(-?\d+(?:\.\d+)?)\s+(\S+)\s*(.*)$/.exec(line);
    if (rule?.[1] && rule[2]) {
      rules.push({ Score: Number(rule[1]), Name: rule[2], Description: (rule[3] ?? '').trim() });
      continue;
    }
    const last = rules.at(-1);
    if (last && /^\s+\S/.test(line)) last.Description = `${last.Description} ${line.trim()}`;
  }
  return rules;
}

/** The spamd reply's headers and body: "SPAMD/1.1 0 EX_OK", "Spam: True ; 1006.0 / 5.0". */
export function parseSpamdReply(reply: string): SpamReport {
  const split = reply.indexOf('\r\n\r\n');
  const head = split < 0 ? reply : reply.slice(0, split);
  const body = split < 0 ? '' : reply.slice(split + 4);
  const status = /^SPAMD\/[\d.]+ (\d+) (.*)$/m.exec(head);
  if (status?.[1] !== '0') {
    return { Error: `spamd: ${status?.[2] ?? 'no answer'}`, IsSpam: false, Score: 0, Rules: null };
  }
  const verdict = /^Spam: (True|False|Yes|No) ; (-?[\d.]+) \/ (-?[\d.]+)/im.exec(head);
  const isSpam = /^(true|yes)$/i.test(verdict?.[1] ?? '');
  return { Error: '', IsSpam: isSpam, Score: Number(verdict?.[2] ?? 0), Rules: parseReportRules(body) };
}

/**
 * Asks spamd (SPAMC/1.5 REPORT, as Mailpit does) about a message. The message is streamed to the
 * socket; only spamd's short report is kept. Failures are a report with Error, as in Mailpit.
 */
export async function spamCheck(address: string, message: Readable, size: number): Promise<SpamReport> {
  const { host, port } = spamdAddress(address);
  try {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host, port });
      socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error('timed out')));
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.once('end', () => {
        resolve(Buffer.concat(chunks).toString('utf8'));
      });
      socket.once('error', reject);
      message.once('error', (error) => socket.destroy(error));
      socket.once('connect', () => {
        socket.write(`REPORT SPAMC/1.5\r\nContent-length: ${String(size)}\r\nUser: mailwharf\r\n\r\n`);
        message.pipe(socket);
      });
    });
    return parseSpamdReply(reply);
  } catch (error) {
    return { Error: `spamd ${address}: ${(error as Error).message}`, IsSpam: false, Score: 0, Rules: null };
  }
}
