import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { toSevenBit } from '../../../src/delivery/seven-bit.js';
import { signedMessage } from '../../../src/delivery/signed-message.js';
import type { Envelope } from '../../../src/spool/envelope.js';
import { newQueueId } from '../../../src/spool/queue-id.js';
import { Spool } from '../../../src/spool/spool.js';
import { testEnvelope } from '../../helpers/envelope.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailwharf-signed-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MESSAGE = Buffer.from(
  'Subject: k\u00f6ln\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\npr\u00e9amble\r\n' +
    '--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGr\u00fc\u00dfe\r\n--b--\r\n',
  'utf8',
);

async function store(spool: Spool, message: Buffer): Promise<Envelope> {
  const id = newQueueId();
  const writer = await spool.begin(id);
  writer.stream.write(message);
  return writer.commit(testEnvelope(id, message.length));
}

async function read(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('signedMessage of an 8-bit message', () => {
  it('plans and sizes the 7-bit form once per message: signing and every later send reuse it', async () => {
    const { spool } = await Spool.open(dir);
    const envelope = await store(spool, MESSAGE);
    const reads = vi.spyOn(spool, 'readMessage');
    const seven = toSevenBit(MESSAGE);

    // The form to sign (as the worker's sign step asks for it), then the signed one, twice (a retry).
    const unsigned = await signedMessage(spool, envelope, '', true);
    expect(reads).toHaveBeenCalledTimes(2);
    expect(unsigned.envelope.size).toBe(seven.length);
    expect((await read(unsigned.open())).equals(seven)).toBe(true);

    const signature = 'DKIM-Signature: v=1; a=rsa-sha256; d=example.com\r\n';
    for (const attempt of [1, 2]) {
      reads.mockClear();
      const signed = await signedMessage(spool, envelope, signature, true);
      // Nothing read until it is sent.
      expect(reads, `attempt ${String(attempt)}`).not.toHaveBeenCalled();
      expect(signed.envelope.size).toBe(signature.length + seven.length);
      const sent = await read(signed.open());
      expect(sent.equals(Buffer.concat([Buffer.from(signature), seven]))).toBe(true);
      expect(sent.length).toBe(signed.envelope.size);
      expect(await signed.header()).toBe(
        signature + seven.subarray(0, seven.indexOf('\r\n\r\n') + 2).toString(),
      );
    }
    await spool.close();
  });

  it('another spool with a message under the same id gets its own plan and size', async () => {
    const first = await Spool.open(join(dir, 'a'));
    const second = await Spool.open(join(dir, 'b'));
    const envelope = await store(first.spool, MESSAGE);
    // As long as the first, so only the spool tells them apart.
    const other = Buffer.from(MESSAGE.toString('utf8').replace('Gr\u00fc\u00dfe', 'Gruesse'), 'utf8');
    expect(other.length).toBe(MESSAGE.length);
    const writer = await second.spool.begin(envelope.id);
    writer.stream.write(other);
    const otherEnvelope = await writer.commit(envelope);

    await signedMessage(first.spool, envelope, '', true);
    const signed = await signedMessage(second.spool, otherEnvelope, '', true);
    expect(signed.envelope.size).toBe(toSevenBit(other).length);
    expect((await read(signed.open())).equals(toSevenBit(other))).toBe(true);
    await first.spool.close();
    await second.spool.close();
  });
});
