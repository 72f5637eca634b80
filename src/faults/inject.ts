import type { SMTPServerSession } from 'smtp-server';
import { dropConnection } from '../smtp/library-hooks.js';
import type { SmtpReply } from '../smtp/replies.js';
import type { FaultFacts, FaultRules, FaultStage } from './rules.js';

/** What an injected fault decided: go on, answer with a reply, or the connection is gone. */
export type FaultOutcome =
  | { readonly kind: 'continue' }
  | { readonly kind: 'reply'; readonly reply: SmtpReply }
  | { readonly kind: 'dropped' };

const NO_FAULT: FaultOutcome = { kind: 'continue' };

/**
 * Runs the fault rules for a stage: waits, then a reply or a drop, or nothing. The facts are
 * asked for only when some rule is set: with none (the usual case) this costs nothing.
 */
export async function injectFault(
  faults: FaultRules,
  stage: FaultStage,
  facts: () => FaultFacts,
  session: SMTPServerSession,
): Promise<FaultOutcome> {
  if (faults.empty) return NO_FAULT;
  for (const action of faults.evaluate(stage, facts())) {
    if (action.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, action.ms));
    else if (action.kind === 'reply') return { kind: 'reply', reply: action.reply };
    else {
      dropConnection(session);
      return { kind: 'dropped' };
    }
  }
  return NO_FAULT;
}

export function envelopeFacts(session: SMTPServerSession, extraRecipient?: string): FaultFacts {
  const mailFrom = session.envelope.mailFrom;
  const recipients = session.envelope.rcptTo.map((rcpt) => rcpt.address);
  return {
    ...(mailFrom === false ? {} : { sender: mailFrom.address }),
    recipients: extraRecipient === undefined ? recipients : [...recipients, extraRecipient],
  };
}
