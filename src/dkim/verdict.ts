import type { AuthStatus } from 'mailauth';

/**
 * A DKIM signature's result and comment from mailauth's status. mailauth (like Gmail) reports a
 * body changed after signing as "neutral (body hash did not verify)"; RFC 6376 §6.3 makes it a
 * failed verification, and dkimpy says fail: so do we, and the comment keeps the reason.
 */
export function dkimVerdict(status: AuthStatus): { Result: string; Comment: string } {
  const plain = { Result: status.result, Comment: status.comment ?? '' };
  return plain.Result === 'neutral' && /body hash/i.test(plain.Comment)
    ? { ...plain, Result: 'fail' }
    : plain;
}
