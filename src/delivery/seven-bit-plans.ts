/**
 * The 7-bit conversion plan of each recently sent 8-bit message (which of its parts have 8-bit
 * bodies), and the size of its 7-bit form once asked for, by spool and queue id. A queue id's
 * bytes never change, and without this every attempt to a hop without 8BITMIME reads the
 * message once more to plan before it reads it to convert; signing reads it once more for the
 * size. Kept per spool so two servers in one process never share an entry.
 */
import type { Spool } from '../spool/spool.js';
import { planSevenBit, sevenBitSize, type EightBitParts } from './seven-bit.js';

/** How many messages' plans are kept per spool (a few bytes each). */
const PLANS_KEPT = 256;

interface Conversion {
  readonly parts: EightBitParts;
  /** The size of the 7-bit form, once counted. */
  size?: number;
}

interface Queued {
  readonly id: string;
  readonly size: number;
}

const conversions = new WeakMap<Spool, Map<string, Conversion>>();

async function conversionOf(spool: Spool, message: Queued): Promise<Conversion> {
  let kept = conversions.get(spool);
  if (!kept) conversions.set(spool, (kept = new Map<string, Conversion>()));
  const key = `${message.id} ${String(message.size)}`;
  const known = kept.get(key);
  if (known) {
    // Most recently used last: the oldest entry is the first to go.
    kept.delete(key);
    kept.set(key, known);
    return known;
  }
  const conversion: Conversion = { parts: await planSevenBit(spool.readMessage(message)) };
  kept.set(key, conversion);
  for (const oldest of kept.keys()) {
    if (kept.size <= PLANS_KEPT) break;
    kept.delete(oldest);
  }
  return conversion;
}

/** Which parts of a queued message have 8-bit bodies: read the first time, then remembered. */
export async function sevenBitPlan(spool: Spool, message: Queued): Promise<EightBitParts> {
  return (await conversionOf(spool, message)).parts;
}

/** The plan and the size of the 7-bit form (without a signature): read the first time each is asked for. */
export async function sevenBitConversion(
  spool: Spool,
  message: Queued,
): Promise<{ readonly parts: EightBitParts; readonly size: number }> {
  const conversion = await conversionOf(spool, message);
  conversion.size ??= await sevenBitSize(spool.readMessage(message), conversion.parts);
  return { parts: conversion.parts, size: conversion.size };
}
