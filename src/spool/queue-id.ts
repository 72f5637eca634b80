import { randomBits40 } from '../util/random-bits.js';

/**
 * A queue id: milliseconds since the epoch in base 36 (so ids sort by arrival) and
 * 40 random bits. Only [0-9A-Z], so it is safe as a file name and in a Received header.
 */
export function newQueueId(now: number = Date.now()): string {
  const time = now.toString(36).toUpperCase().padStart(9, '0');
  const random = randomBits40().toString(36).toUpperCase().padStart(8, '0');
  return `${time}${random}`;
}

export function isQueueId(value: string): boolean {
  return /^[0-9A-Z]{17}$/.test(value);
}
