import { randomBytes } from 'node:crypto';

/**
 * A queue id: milliseconds since the epoch in base 36 (so ids sort by arrival) and
 * 40 random bits. Only [0-9A-Z], so it is safe as a file name and in a Received header.
 */
export function newQueueId(now: number = Date.now()): string {
  const time = now.toString(36).toUpperCase().padStart(9, '0');
  const random = randomBits40().toString(36).toUpperCase().padStart(8, '0');
  return `${time}${random}`;
}

// Random bytes drawn a few KiB at a time: a call into the CSPRNG per id showed in the intake profile.
const POOL_BYTES = 5 * 1024;
let pool = Buffer.alloc(0);
let used = POOL_BYTES;

function randomBits40(): number {
  if (used + 5 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    used = 0;
  }
  const value = pool.readUIntBE(used, 5);
  used += 5;
  return value;
}

export function isQueueId(value: string): boolean {
  return /^[0-9A-Z]{17}$/.test(value);
}
