/**
 * Turning a committed message into a Summary: fully when that is quick, from the header block
 * when the body is large (completed right after the 250), from the envelope when mailparser
 * cannot read it at all (still indexed, with the reason).
 */
import type { ParsedMail, SimpleParserOptions } from 'mailparser';
import { FOR_THE_INDEX, mailparser, parseMail } from './mail-parser.js';
import { parseSimple } from './simple-message.js';
import type { Envelope } from '../spool/envelope.js';
import type { Spool } from '../spool/spool.js';
import { summarize, summarizeRaw, type Summary } from './summary.js';

/** Header bytes read for a header-derived row. */
const HEADER_BYTES = 64 * 1024;

function reasonOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export interface WholeParse {
  readonly summary: Summary;
  /** Undefined when mailparser could not read the message. */
  readonly parsed: ParsedMail | undefined;
}

/**
 * The whole message (from `bytes` when the spool still held them, else read back); an
 * unparseable one becomes a raw summary saying why. Parsed for the index alone unless
 * `options` ask for more (the fixture hands the parse to its tests).
 */
export async function parseWhole(
  spool: Spool,
  envelope: Envelope,
  bytes?: Buffer,
  options: SimpleParserOptions = FOR_THE_INDEX,
): Promise<WholeParse> {
  // A simple message in memory is read without mailparser's streams (see simple-message.ts).
  // Anything it cannot read, or that throws, is mailparser's to parse (or to fail on).
  if (options === FOR_THE_INDEX && bytes?.length === envelope.size) {
    const { parseAddressHeader } = await mailparser();
    let simple: ParsedMail | undefined;
    try {
      simple = parseSimple(bytes, parseAddressHeader);
    } catch {
      simple = undefined;
    }
    if (simple) return { summary: summarize(envelope, simple), parsed: simple };
  }
  try {
    const parsed = await parseMail(
      () => (bytes?.length === envelope.size ? bytes : spool.readMessage(envelope)),
      options,
    );
    return { summary: summarize(envelope, parsed), parsed };
  } catch (error) {
    const headers = await parseHeaderOnly(spool, envelope).catch(() => undefined);
    return { summary: summarizeRaw(envelope, reasonOf(error), headers), parsed: undefined };
  }
}

async function parseHeaderOnly(spool: Spool, envelope: Envelope) {
  const header = await spool.readHeader(envelope, HEADER_BYTES);
  return parseMail(() => `${header}\r\n`, FOR_THE_INDEX);
}

/** The header block only: list, get-by-id, wait and header searches see it; the body comes later. */
export async function parseHeader(spool: Spool, envelope: Envelope): Promise<Summary> {
  try {
    return summarize(envelope, await parseHeaderOnly(spool, envelope), false);
  } catch (error) {
    return summarizeRaw(envelope, reasonOf(error));
  }
}

/** The value if `work` settles within `ms`, else undefined (the work goes on). */
export async function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  if (!Number.isFinite(ms)) return work;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      resolve(undefined);
    }, ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
