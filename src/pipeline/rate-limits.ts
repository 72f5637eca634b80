/**
 * Intake rate limits as policy data (`limits.rate`): messages per minute (counted at MAIL, as
 * Postfix's smtpd_client_message_rate_limit) and recipients per hour (at RCPT, as
 * smtpd_client_recipient_rate_limit), per client address and, once authenticated, per AUTH
 * user too, so one account cannot spread its sending over many addresses. Clients in the
 * policy's trusted networks are not limited (Postfix's smtpd_client_event_limit_exceptions
 * is $mynetworks). Counters live in this process; a refusal is a 450 with the wait in its text.
 */
import type { Limits } from '../config/schema.js';
import { rateLimited } from '../smtp/replies.js';
import { SlidingWindow } from '../util/rate-window.js';
import type { NetworkSet } from './networks.js';
import { accept, reject, type Verdict } from './verdict.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;

export interface RateFacts {
  readonly clientAddress: string;
  readonly authUser: string | undefined;
}

export class IntakeRateLimits {
  private readonly messages: SlidingWindow | undefined;
  private readonly recipients: SlidingWindow | undefined;

  constructor(
    rate: Limits['rate'],
    private readonly exempt: NetworkSet,
    now: () => number = Date.now,
  ) {
    this.messages =
      rate.messagesPerMinute > 0 ? new SlidingWindow(rate.messagesPerMinute, MINUTE, now) : undefined;
    this.recipients =
      rate.recipientsPerHour > 0 ? new SlidingWindow(rate.recipientsPerHour, HOUR, now) : undefined;
  }

  /** At MAIL FROM: one more message. */
  mail(facts: RateFacts): Verdict {
    return this.take(this.messages, facts, 'messages');
  }

  /** At RCPT TO: one more recipient. */
  rcpt(facts: RateFacts): Verdict {
    return this.take(this.recipients, facts, 'recipients');
  }

  private take(
    window: SlidingWindow | undefined,
    facts: RateFacts,
    what: 'messages' | 'recipients',
  ): Verdict {
    if (!window || this.exempt.contains(facts.clientAddress)) return accept;
    const keys = [
      `ip:${facts.clientAddress}`,
      ...(facts.authUser === undefined ? [] : [`user:${facts.authUser}`]),
    ];
    // Check every key before taking from any, so a refusal counts against none of them.
    for (const key of keys) {
      if (window.used(key) + 1 > window.limit) {
        const wait = window.take(key);
        if (!wait.ok) return reject(rateLimited(what, Math.ceil(wait.retryAfterMs / 1000)));
      }
    }
    for (const key of keys) window.take(key);
    return accept;
  }
}
