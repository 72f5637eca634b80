export const QUEUE_OPERATIONS = ['flush', 'hold', 'release', 'delete', 'bounce'] as const;
export type QueueOperation = (typeof QUEUE_OPERATIONS)[number];

export interface ControlCommand {
  readonly op: QueueOperation;
  /** Empty means every queued message (flush only). */
  readonly ids: readonly string[];
  /** Orders commands: the operator's last word wins (see control.ts). */
  readonly seq: number;
}
