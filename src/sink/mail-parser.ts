/**
 * mailparser, loaded on the first parse rather than at start: loading it costs ~0.45 s of CPU
 * (more on a loaded machine), and a start on an index that agrees with the spool parses nothing.
 * The source is opened once the parser is there, so a stream's early error has a listener.
 */
import type { ParsedMail, Source } from 'mailparser';

let loading: Promise<typeof import('mailparser')> | undefined;

export async function parseMail(open: () => Source): Promise<ParsedMail> {
  loading ??= import('mailparser');
  const { simpleParser } = await loading;
  return simpleParser(open());
}
