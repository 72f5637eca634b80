export interface ReceivedFacts {
  readonly helo: string;
  readonly clientAddress: string;
  readonly serverName: string;
  readonly queueId: string;
  readonly esmtp: boolean;
  readonly tls: { readonly version: string; readonly cipher: string } | undefined;
  readonly authenticated: boolean;
  /** Named in the header only when there is exactly one (RFC 5321 §4.4, privacy). */
  readonly recipients: readonly string[];
  readonly date: Date;
}

/**
 * Client-supplied text goes into the header only through this: it keeps printable ASCII
 * that cannot end a comment, a field or a line, so HELO or an address cannot inject
 * a header or fake a hop.
 */
export function headerSafe(value: string): string {
  return value.replace(/[^\x21-\x7e]|[()<>;\\"]/g, '?').slice(0, 255);
}

/** RFC 5322 date-time, e.g. "Sun, 22 Nov 2026 22:30:12 +0000". */
export function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

/** RFC 3848 protocol names: ESMTP, plus S for TLS, plus A for AUTH. */
function protocol(facts: ReceivedFacts): string {
  if (!facts.esmtp) return 'SMTP';
  return `ESMTP${facts.tls ? 'S' : ''}${facts.authenticated ? 'A' : ''}`;
}

/** RFC 5321 §4.1.3 address literal contents: IPv6 tagged, IPv4-mapped IPv6 as plain IPv4. */
function addressLiteral(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  return address.includes(':') ? `IPv6:${address}` : address;
}

/** The trace header we prepend (RFC 5321 §4.4), folded, ending in CRLF. */
export function receivedHeader(facts: ReceivedFacts): string {
  const lines = [
    `Received: from ${headerSafe(facts.helo || 'unknown')} ([${headerSafe(addressLiteral(facts.clientAddress))}])`,
    `\tby ${headerSafe(facts.serverName)} (mailwharf) with ${protocol(facts)} id ${facts.queueId}`,
  ];
  if (facts.tls) {
    lines.push(`\t(using ${headerSafe(facts.tls.version)} with cipher ${headerSafe(facts.tls.cipher)})`);
  }
  const only = facts.recipients.length === 1 ? facts.recipients[0] : undefined;
  if (only !== undefined) lines.push(`\tfor <${headerSafe(only)}>;`);
  const last = lines.length - 1;
  lines[last] = `${lines[last] ?? ''}${only !== undefined ? '' : ';'} ${rfc5322Date(facts.date)}`;
  return `${lines.join('\r\n')}\r\n`;
}
