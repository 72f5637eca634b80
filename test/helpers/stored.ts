import type { Spool } from '../../src/spool/spool.js';

/** The bytes a spool keeps for a message (without its envelope trailer); fails if there is none. */
export async function storedBytes(spool: Spool, id: string): Promise<Buffer> {
  const bytes = await spool.messageBytes(id);
  if (!bytes) throw new Error(`no message ${id} in the spool`);
  return bytes;
}

export async function storedText(spool: Spool, id: string, encoding: BufferEncoding): Promise<string> {
  return (await storedBytes(spool, id)).toString(encoding);
}
