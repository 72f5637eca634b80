/** The reply to a message accepted into the spool, and the queue id in it. */
export const QUEUED = /^250 2\.0\.0 Ok: queued as ([0-9A-Z]{17})$/;

/** The queue id of a `250 … queued as ID` reply; throws on any other reply, naming it. */
export function queueIdOf(reply: string): string {
  const id = QUEUED.exec(reply)?.[1];
  if (id === undefined) throw new Error(`not a queued reply: ${JSON.stringify(reply)}`);
  return id;
}
