/** What the bench measures: each cell is one smtp-source load, run against several peers. */
import { drive, type Load } from './drive.js';
import { PEERS, type PeerName } from './peers/peer.js';

export interface Cell {
  readonly id: string;
  readonly label: string;
  readonly load: Load;
  readonly peers: readonly PeerName[];
}

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Sent to every peer before each measured run and left out of every figure, so that each cell
 * measures a server in steady state, as one is after its first minutes in service: V8's JIT
 * warm for the Node servers, page cache, queue directories and worker processes for all. Both
 * shapes the cells use, a connection per message and reused connections, then a few messages
 * of the cell's own size when it is larger. Twenty sessions in parallel keep the floor's
 * 100 ms greeting pause from stretching the warm-up to a minute. The same for every peer.
 */
const WARMUP_BASE: readonly Load[] = [
  { messages: 300, sessions: 20, bytes: 4 * KiB, reuse: false },
  { messages: 200, sessions: 10, bytes: 4 * KiB, reuse: true },
];
const WARMUP_OWN_SIZE = { messages: 20, maxSessions: 10 };

export function warmupFor(cell: Cell): Load[] {
  if (cell.load.bytes <= 4 * KiB) return [...WARMUP_BASE];
  const ownSize = {
    ...cell.load,
    messages: WARMUP_OWN_SIZE.messages,
    sessions: Math.min(cell.load.sessions, WARMUP_OWN_SIZE.maxSessions),
  };
  return [...WARMUP_BASE, ownSize];
}

/** The warm-up as a phrase for the results' footnote. */
export function describeWarmup(): string {
  const shapes = WARMUP_BASE.map(
    (load) =>
      `${load.messages} messages ${load.reuse ? 'on reused connections' : 'on a new connection each'} ` +
      `(${load.sessions} clients, ${load.bytes / KiB} KiB)`,
  );
  return (
    `warm-up before every run of every peer, not counted: ${shapes.join(', then ')}, ` +
    `then ${WARMUP_OWN_SIZE.messages} of the cell's size where it is larger`
  );
}

/** Sends the cell's warm-up; the number of messages sent, or an error naming the peer. */
export async function warmUp(peerName: string, port: number, cell: Cell): Promise<number> {
  let sent = 0;
  for (const load of warmupFor(cell)) {
    const result = await drive(port, load, 120_000);
    if (result.sent !== load.messages) throw new Error(`${peerName}: warm-up failed: ${result.errors}`);
    sent += result.sent;
  }
  return sent;
}

// Each cell sends enough messages for a steady-state figure (conn-1's 300 take the floor
// and MailDev, which pause 100 ms before each greeting, about 33 s).
export const CELLS: readonly Cell[] = [
  {
    id: 'conn-1',
    label: 'connection per message, 1 client, 4 KiB',
    load: { messages: 300, sessions: 1, bytes: 4 * KiB, reuse: false },
    peers: PEERS,
  },
  {
    id: 'conn-10',
    label: 'connection per message, 10 clients, 4 KiB',
    load: { messages: 300, sessions: 10, bytes: 4 * KiB, reuse: false },
    peers: PEERS,
  },
  {
    id: 'conn-50',
    label: 'connection per message, 50 clients, 4 KiB',
    load: { messages: 1000, sessions: 50, bytes: 4 * KiB, reuse: false },
    peers: PEERS,
  },
  {
    id: 'reuse-10',
    label: 'reused connections, 10 clients, 4 KiB',
    load: { messages: 1000, sessions: 10, bytes: 4 * KiB, reuse: true },
    peers: PEERS,
  },
  {
    id: 'reuse-50',
    label: 'reused connections, 50 clients, 4 KiB',
    load: { messages: 2000, sessions: 50, bytes: 4 * KiB, reuse: true },
    peers: PEERS,
  },
  {
    id: 'reuse-10-1m',
    label: 'reused connections, 10 clients, 1 MiB',
    load: { messages: 100, sessions: 10, bytes: MiB, reuse: true },
    peers: PEERS,
  },
  {
    id: 'memory-50-10m',
    label: '50 clients × 10 MiB (memory)',
    load: { messages: 100, sessions: 50, bytes: 10 * MiB, reuse: true },
    peers: ['mailwharf', 'floor'],
  },
];
