import type { SmtpReply } from '../smtp/replies.js';

/** What a pipeline stage decides. A stage never writes to the socket. */
export type Verdict = { readonly kind: 'accept' } | { readonly kind: 'reject'; readonly reply: SmtpReply };

export const accept: Verdict = { kind: 'accept' };

export function reject(reply: SmtpReply): Verdict {
  return { kind: 'reject', reply };
}
