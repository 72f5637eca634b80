/**
 * The reverse-path / forward-path of MAIL FROM and RCPT TO as RFC 5321 §4.1.2 writes it, read
 * far enough to know two things smtp-server does not tell us: whether the local part is a
 * quoted string (which the library refuses, splitting the line at its spaces), and whether the
 * path carries sender-specified routing (a source route, which the library strips silently, or
 * '%', '!' or '@' inside the local part). Pure: no sockets, tested as a table.
 */

export interface CommandPath {
  /** Everything between '<' and '>', as sent. */
  readonly path: string;
  /** The parameters after '>' (e.g. "SIZE=100 BODY=8BITMIME"), trimmed. */
  readonly params: string;
}

export interface PathForm {
  /** "@relay.example,@other.example" when the path starts with an RFC 5321 source route. */
  readonly sourceRoute: string | undefined;
  /** The local part as sent, quotes and escapes included. */
  readonly localPart: string;
  /** The domain as sent (after the last '@'); '' when there is none, as in <postmaster>. */
  readonly domain: string;
  readonly quoted: boolean;
  /** A source route, or '%', '!' or '@' in the local part: the sender picks the next hop. */
  readonly routing: boolean;
}

/** Zero-width characters smtp-server refuses in addresses too (they hide what a log shows). */
const INVISIBLE = new Set([0x200b, 0x2060, 0xfeff]);

/** RFC 5321 §4.5.3.1.1: a local part is at most 64 octets. */
const MAX_LOCAL_PART = 64;

/**
 * Splits "RCPT TO:<path> params" at its path (after the first ':'). Angle brackets and spaces
 * inside a quoted local part do not end it. Undefined when there is no complete <path>.
 */
export function splitCommandPath(line: string): CommandPath | undefined {
  const colon = line.indexOf(':');
  if (colon < 0) return undefined;
  const rest = line.slice(colon + 1).trimStart();
  if (!rest.startsWith('<')) return undefined;
  let quoted = false;
  for (let index = 1; index < rest.length; index++) {
    const char = rest[index];
    if (quoted && char === '\\') {
      index++;
      continue;
    }
    if (char === '"') quoted = !quoted;
    else if (char === '>' && !quoted) {
      return { path: rest.slice(1, index), params: rest.slice(index + 1).trim() };
    }
  }
  return undefined;
}

/**
 * The parts of a path. Undefined for a quoted local part that is not RFC 5321 syntax
 * (unterminated, a control character, not followed by '@domain', too long), so the caller
 * leaves the refusal to the library's own syntax check.
 */
export function pathForm(path: string): PathForm | undefined {
  const route = /^(@[^\s,:@]+(?:,@[^\s,:@]+)*):/.exec(path);
  const sourceRoute = route?.[1];
  const mailbox = route ? path.slice(route[0].length) : path;
  if (!mailbox.startsWith('"')) {
    const at = mailbox.lastIndexOf('@');
    const localPart = at < 0 ? mailbox : mailbox.slice(0, at);
    return {
      sourceRoute,
      localPart,
      domain: at < 0 ? '' : mailbox.slice(at + 1),
      quoted: false,
      routing: sourceRoute !== undefined || /[%!@]/.test(localPart),
    };
  }
  let content = '';
  let index = 1;
  for (; index < mailbox.length; index++) {
    const code = mailbox.charCodeAt(index);
    // qtextSMTP is %d32-33 / %d35-91 / %d93-126; a quoted-pair is backslash and %d32-126.
    if (code === 0x5c) {
      const next = mailbox.charCodeAt(index + 1);
      if (!(next >= 32 && next <= 126)) return undefined;
      content += mailbox.charAt(index + 1);
      index++;
      continue;
    }
    if (code === 0x22) break;
    if (code < 32 || (code >= 127 && code <= 0x9f) || INVISIBLE.has(code)) return undefined;
    content += mailbox.charAt(index);
  }
  if (mailbox.charCodeAt(index) !== 0x22 || mailbox.charAt(index + 1) !== '@') return undefined;
  const localPart = mailbox.slice(0, index + 1);
  const domain = mailbox.slice(index + 2);
  if (localPart.length > MAX_LOCAL_PART || domain === '') return undefined;
  return {
    sourceRoute,
    localPart,
    domain,
    quoted: true,
    routing: sourceRoute !== undefined || /[%!@]/.test(content),
  };
}
