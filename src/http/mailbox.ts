import { mailboxCondition, type Condition } from '../sink/search.js';

/**
 * A mailbox scopes list, search, delete, wait and events to one test's mail, so parallel
 * tests on one instance do not see each other's: it matches an envelope recipient
 * (alice@example.com), a plus-tag (user+TAG@… matches "TAG"), or the AUTH user.
 * The index keeps each message's keys (see mailboxKeys), so this is a condition on it.
 */
export function mailboxScope(mailbox: string | undefined): Condition | undefined {
  if (mailbox === undefined || mailbox === '') return undefined;
  return mailboxCondition(mailbox);
}
