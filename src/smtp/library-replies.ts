import type { Policy } from '../config/schema.js';
import type { LibraryReply } from './library-hooks.js';
import { replies, type SmtpReply } from './replies.js';

/**
 * smtp-server's own replies that we replace with catalogue replies: where its derived
 * enhanced code is wrong, or where our policy explains the refusal better. All other
 * library replies (syntax errors, bad sequence, 250s) keep the library's rendering.
 */
export function libraryReplyFor(policy: Policy, reply: LibraryReply, secure: boolean): SmtpReply | undefined {
  // AUTH is a disabled command before TLS (so EHLO does not offer it); the library then
  // says "500 command not recognized". Say why instead, as Postfix does.
  if (reply.code === 500 && reply.context === 'AUTH') {
    if (policy.auth !== 'none' && policy.authRequiresTls && !secure) return replies.authNeedsTls;
    return replies.authNotOffered;
  }
  if (reply.context === 'MESSAGE_TOO_BIG') return replies.messageTooBig;
  if (reply.context === 'TOO_MANY_RECIPIENTS') return replies.tooManyRecipients;
  if (reply.code === 421) {
    if (/talk too soon/i.test(reply.text)) return replies.earlyTalker;
    if (/^Timeout/i.test(reply.text)) return replies.idleTimeout;
    if (/shutting down/i.test(reply.text)) return replies.shuttingDown;
  }
  return undefined;
}
