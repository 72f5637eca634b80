/**
 * mailparser, loaded on the first parse rather than at start: loading it costs ~0.45 s of CPU
 * (more on a loaded machine), and a start on an index that agrees with the spool parses nothing.
 * The source is opened once the parser is there, so a stream's early error has a listener.
 */
import type { ParsedMail, SimpleParserOptions, Source } from 'mailparser';

let loading: Promise<typeof import('mailparser')> | undefined;

/**
 * What the index reads of a parse (addresses, subject, text, attachment names and sizes)
 * without the work only the message view needs: the text as HTML with its links found,
 * `cid:` images inlined as data URLs, an MD5 of every attachment. Those were most of
 * mailparser's own time per message at intake.
 */
export const FOR_THE_INDEX: SimpleParserOptions = {
  skipTextToHtml: true,
  skipTextLinks: true,
  skipImageLinks: true,
  checksumAlgo: false,
};

export function mailparser(): Promise<typeof import('mailparser')> {
  loading ??= import('mailparser');
  return loading;
}

export async function parseMail(open: () => Source, options?: SimpleParserOptions): Promise<ParsedMail> {
  const { simpleParser } = await mailparser();
  return simpleParser(open(), options);
}
