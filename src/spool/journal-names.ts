import { readdir } from 'node:fs/promises';
import { isErrno } from '../util/errno.js';

/** The names of the journal's files (journal.ts): NNNNNNNNNN.seg, NNNNNNNNNN.idx, their staging names. */
export function segmentName(segment: number): string {
  return `${segmentNumber(segment)}.seg`;
}

export function indexName(segment: number): string {
  return `${segmentNumber(segment)}.idx`;
}

export function segmentNumber(segment: number): string {
  return String(segment).padStart(10, '0');
}

const SEGMENT_FILE = /^(\d{10})\.seg$/;
/** An index being written (Journal.writeIndex), until it is renamed into place. */
export const STAGED_INDEX_FILE = /^\d{10}\.idx\.tmp$/;

/** A directory's names; none when it does not exist (yet). */
export async function listNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  }
}

export function segmentNumbers(names: readonly string[]): number[] {
  return names.flatMap((name) => {
    const match = SEGMENT_FILE.exec(name);
    return match?.[1] ? [Number(match[1])] : [];
  });
}
