/** A server the bench drives: started fresh for every run, so its store starts empty. */
export const PEERS = [
  'mailwharf',
  'postfix',
  'floor',
  'haraka',
  'maildev',
  'smtp-server',
  'smtp-sink',
] as const;
export type PeerName = (typeof PEERS)[number];

export interface RunningPeer {
  readonly port: number;
  /** The server process whose memory is measured (the main process for peers that fork). */
  readonly pid: number;
  /** Messages in its store now; undefined for a peer that keeps nothing. */
  stored(): Promise<number | undefined>;
  /** Stops the process and removes its temporary files. */
  stop(): Promise<void>;
}

export interface Peer {
  readonly name: PeerName;
  /** One line for the report: what runs and how it is configured. */
  readonly description: string;
  /** Several processes (a master and its workers): measure RSS summed over the whole tree. */
  readonly rssOfTree?: boolean;
  start(): Promise<RunningPeer>;
}
