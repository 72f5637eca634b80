import { randomBytes } from 'node:crypto';

// Random bytes drawn a few KiB at a time: a call into the CSPRNG per id showed in the intake
// profile (about 14 µs each: a native call, OpenSSL's fork check, a Buffer).
const POOL_BYTES = 5 * 1024;
let pool = Buffer.alloc(0);
let used = POOL_BYTES;

/** 40 bits from the CSPRNG, as a number below 2^40. */
export function randomBits40(): number {
  if (used + 5 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    used = 0;
  }
  const value = pool.readUIntBE(used, 5);
  used += 5;
  return value;
}
