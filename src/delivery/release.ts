import { once } from 'node:events';
import type { Config } from '../config/schema.js';
import { addressDomain } from '../pipeline/stages.js';
import type { Envelope } from '../spool/envelope.js';
import { newQueueId } from '../spool/queue-id.js';
import type { Spool } from '../spool/spool.js';

/** Why a release was refused, said to the API caller. */
export class ReleaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReleaseError';
  }
}

/**
 * Queues a copy of a captured message for the release route (the delivery worker sends
 * it, with its usual retries). Recipients default to the original ones and must all be
 * in release.allowedDomains.
 */
export async function releaseCaptured(
  spool: Spool,
  config: Config,
  id: string,
  recipients?: readonly string[],
): Promise<Envelope> {
  const release = config.release;
  if (!release)
    throw new ReleaseError('release is not configured (set release.route and release.allowedDomains)');
  const original = await spool.envelope(id);
  if (!original) throw new ReleaseError(`no message ${id}`);
  const to = recipients ?? original.rcptTo.map((r) => r.address);
  if (to.length === 0) throw new ReleaseError('no recipients to release to');
  const allowed = new Set(release.allowedDomains.map((d) => addressDomain(`x@${d}`)));
  const refused = to.filter((address) => !allowed.has(addressDomain(address)));
  if (refused.length > 0) {
    throw new ReleaseError(`not in release.allowedDomains: ${refused.join(', ')}`);
  }

  const copyId = newQueueId();
  const writer = await spool.begin(copyId);
  let size = 0;
  try {
    for await (const chunk of spool.readMessage(original)) {
      const bytes = chunk as Buffer;
      size += bytes.length;
      if (!writer.stream.write(bytes)) await once(writer.stream, 'drain');
    }
  } catch (error) {
    await writer.abort();
    throw error;
  }
  const copy: Envelope = {
    ...original,
    id: copyId,
    receivedAt: new Date().toISOString(),
    size,
    rcptTo: to.map((address) => ({ address })),
    listener: { name: 'release', role: 'internal', port: 0 },
    state: 'queued',
    route: 'release',
  };
  await writer.commit(copy);
  return copy;
}
