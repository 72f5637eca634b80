import { createSocket, type Socket } from 'node:dgram';

/** What a name answers; a name absent from the map is NXDOMAIN, a type absent is NODATA. */
export interface DnsRecords {
  A?: string[];
  TXT?: string[];
  MX?: { exchange: string; priority: number }[];
}

export interface DnsServer {
  /** "127.0.0.1:PORT", as dns.Resolver#setServers and config take it. */
  readonly address: string;
  readonly port: number;
  /** Names and types asked so far, e.g. "TXT sel._domainkey.example.com". */
  readonly queries: string[];
  /** Lower-case names without the trailing dot; change freely while the server runs. */
  readonly records: Map<string, DnsRecords>;
  close(): Promise<void>;
}

const TYPES = { A: 1, MX: 15, TXT: 16 } as const;
const TYPE_NAMES = new Map<number, string>([
  [1, 'A'],
  [15, 'MX'],
  [16, 'TXT'],
  [28, 'AAAA'],
]);

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([
    ...labels.map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')])),
    Buffer.from([0]),
  ]);
}

/** The question's name and the offset just past it (queries carry no compression). */
function readName(packet: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let at = offset;
  for (let length = packet[at] ?? 0; length > 0; length = packet[at] ?? 0) {
    labels.push(packet.toString('ascii', at + 1, at + 1 + length));
    at += length + 1;
  }
  return { name: labels.join('.').toLowerCase(), end: at + 1 };
}

/** A TXT string is at most 255 bytes: longer records (DKIM keys) are split, as zone files do. */
function txtData(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length || at === 0; at += 255) {
    const slice = bytes.subarray(at, at + 255);
    parts.push(Buffer.from([slice.length]), slice);
    if (bytes.length === 0) break;
  }
  return Buffer.concat(parts);
}

function rdata(type: number, records: DnsRecords): Buffer[] {
  if (type === TYPES.A) return (records.A ?? []).map((ip) => Buffer.from(ip.split('.').map(Number)));
  if (type === TYPES.TXT) return (records.TXT ?? []).map(txtData);
  if (type === TYPES.MX) {
    return (records.MX ?? []).map((mx) => {
      const priority = Buffer.alloc(2);
      priority.writeUInt16BE(mx.priority);
      return Buffer.concat([priority, encodeName(mx.exchange)]);
    });
  }
  return [];
}

function answer(query: Buffer, records: Map<string, DnsRecords>, log: string[]): Buffer | undefined {
  if (query.length < 12) return undefined;
  const { name, end } = readName(query, 12);
  const type = query.readUInt16BE(end);
  log.push(`${TYPE_NAMES.get(type) ?? String(type)} ${name}`);
  const known = records.get(name);
  const datas = known ? rdata(type, known) : [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR, AA, the client's RD; RCODE 3 (NXDOMAIN) for an unknown name.
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | (known ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(datas.length, 6);
  const question = query.subarray(12, end + 4);
  const answers = datas.map((data) => {
    const fixed = Buffer.alloc(12);
    fixed.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    fixed.writeUInt16BE(type, 2);
    fixed.writeUInt16BE(1, 4); // class IN
    fixed.writeUInt32BE(60, 6);
    fixed.writeUInt16BE(data.length, 10);
    return Buffer.concat([fixed, data]);
  });
  return Buffer.concat([header, question, ...answers]);
}

/** An authoritative DNS server on 127.0.0.1 (UDP, port 0) answering A, TXT and MX from a map. */
export async function startDnsServer(initial: Record<string, DnsRecords> = {}): Promise<DnsServer> {
  const records = new Map(Object.entries(initial).map(([name, value]) => [name.toLowerCase(), value]));
  const queries: string[] = [];
  const socket: Socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    const reply = answer(query, records, queries);
    if (reply) socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      resolve();
    });
  });
  const port = socket.address().port;
  return {
    address: `127.0.0.1:${String(port)}`,
    port,
    queries,
    records,
    close: () =>
      new Promise<void>((resolve) => {
        socket.close(() => {
          resolve();
        });
      }),
  };
}
