import type { IndexedMessage } from '../sink/summary.js';

/**
 * A mailbox scopes list, search, delete, wait and events to one test's mail, so parallel
 * tests on one instance do not see each other's: it matches an envelope recipient
 * (alice@example.com), a plus-tag (user+TAG@… matches "TAG"), or the AUTH user.
 */
export function mailboxScope(
  mailbox: string | undefined,
): ((message: IndexedMessage) => boolean) | undefined {
  if (mailbox === undefined || mailbox === '') return undefined;
  const wanted = mailbox.toLowerCase();
  return (message) =>
    message.envelope.authUser?.toLowerCase() === wanted ||
    message.envelope.rcptTo.some((rcpt) => {
      const address = rcpt.address.toLowerCase();
      if (address === wanted) return true;
      const tag = /^[^+@]+\+([^@]+)@/.exec(address)?.[1];
      return tag === wanted;
    });
}
