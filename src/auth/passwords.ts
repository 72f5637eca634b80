import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { Limiter } from '../util/limiter.js';

/** scrypt parameters: N=2^15 takes ~50 ms here, enough to make guessing dear. */
const DEFAULTS = { N: 32768, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

/**
 * One scrypt at a time. Each holds a libuv pool thread for ~50 ms, and the pool (4 threads by
 * default) also runs every spool open, write and fsync: a burst of AUTH attempts, failed or
 * not, must not stall the acknowledgement of mail. Logins queue instead (which also slows a
 * guesser down); past SCRYPT_QUEUE waiting, AUTH is answered 454 4.7.0 at once rather than
 * making every login wait behind a flood.
 */
export const SCRYPT_QUEUE = 64;
export const scryptLimiter = new Limiter(1, SCRYPT_QUEUE);

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return scryptLimiter.run(() => deriveNow(password, salt, options));
}

function deriveNow(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem must cover 128 * N * r bytes, which the default 32 MiB does not for N=2^15.
    scrypt(password, salt, KEY_LENGTH, { ...options, maxmem: 256 * 1024 * 1024 }, (error, key) => {
      if (error) reject(error);
      else resolve(key);
    });
  });
}

/** Format: scrypt$N=32768,r=8,p=1$<salt base64>$<key base64>, as in config `passwordHash`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, DEFAULTS);
  return `scrypt$N=${DEFAULTS.N},r=${DEFAULTS.r},p=${DEFAULTS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const match = /^scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(encoded);
  if (!match) return false;
  const [, n, r, p, salt = '', expected = ''] = match;
  const expectedKey = Buffer.from(expected, 'base64');
  const key = await derive(password, Buffer.from(salt, 'base64'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return key.length === expectedKey.length && timingSafeEqual(key, expectedKey);
}
