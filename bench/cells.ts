/** What the bench measures: each cell is one smtp-source load, run against several peers. */
import type { Load } from './drive.js';
import { PEERS, type PeerName } from './peers/peer.js';

export interface Cell {
  readonly id: string;
  readonly label: string;
  readonly load: Load;
  readonly peers: readonly PeerName[];
}

const KiB = 1024;
const MiB = 1024 * KiB;

/** Sent before each measured run (fresh JIT, first files); left out of every figure. */
export const WARMUP: Load = { messages: 10, sessions: 5, bytes: 4 * KiB, reuse: true };

// Counts keep every run short: the floor waits 100 ms before each greeting (~9 messages/s
// for one client with a connection per message).
export const CELLS: readonly Cell[] = [
  {
    id: 'conn-1',
    label: 'connection per message, 1 client, 4 KiB',
    load: { messages: 60, sessions: 1, bytes: 4 * KiB, reuse: false },
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
