import { describe, expect, it } from 'vitest';
import { networkSet } from '../../../src/pipeline/networks.js';
import { IntakeRateLimits } from '../../../src/pipeline/rate-limits.js';
import { renderReply } from '../../../src/smtp/replies.js';
import type { Verdict } from '../../../src/pipeline/verdict.js';

const line = (verdict: Verdict): string =>
  verdict.kind === 'accept' ? 'accept' : renderReply(verdict.reply);

describe('intake rate limits', () => {
  let now = 0;
  const limits = (messagesPerMinute: number, recipientsPerHour: number) =>
    new IntakeRateLimits({ messagesPerMinute, recipientsPerHour }, networkSet(['10.0.0.0/8']), () => now);

  it('refuses the message past the per-address limit with 450 4.7.1 and the wait, then takes it once the window moves', () => {
    now = 0;
    const rates = limits(2, 0);
    const from = { clientAddress: '192.0.2.1', authUser: undefined };
    expect(line(rates.mail(from))).toBe('accept');
    now = 15_000;
    expect(line(rates.mail(from))).toBe('accept');
    expect(line(rates.mail(from))).toBe('450 4.7.1 Too many messages from you; try again in 45 s');
    expect(line(rates.mail({ clientAddress: '192.0.2.2', authUser: undefined }))).toBe('accept'); // another address
    now = 60_001;
    expect(line(rates.mail(from))).toBe('accept');
  });

  it('limits an AUTH user across addresses, and a refusal counts against no key', () => {
    now = 0;
    const rates = limits(0, 3);
    expect(line(rates.rcpt({ clientAddress: '192.0.2.1', authUser: 'alice' }))).toBe('accept');
    expect(line(rates.rcpt({ clientAddress: '192.0.2.2', authUser: 'alice' }))).toBe('accept');
    expect(line(rates.rcpt({ clientAddress: '192.0.2.3', authUser: 'alice' }))).toBe('accept');
    expect(line(rates.rcpt({ clientAddress: '192.0.2.4', authUser: 'alice' }))).toBe(
      '450 4.7.1 Too many recipients from you; try again in 3600 s',
    );
    // 192.0.2.4 was refused for alice's sake: its own count is still empty.
    for (let i = 0; i < 3; i++)
      expect(line(rates.rcpt({ clientAddress: '192.0.2.4', authUser: undefined }))).toBe('accept');
    expect(line(rates.rcpt({ clientAddress: '192.0.2.4', authUser: undefined }))).toMatch(/^450 4\.7\.1 /);
  });

  it('does not limit trusted networks, nor anyone when the limits are 0', () => {
    now = 0;
    const trusted = limits(1, 1);
    for (let i = 0; i < 5; i++) {
      expect(line(trusted.mail({ clientAddress: '10.1.2.3', authUser: undefined }))).toBe('accept');
      expect(line(trusted.rcpt({ clientAddress: '10.1.2.3', authUser: 'bob' }))).toBe('accept');
    }
    const off = limits(0, 0);
    for (let i = 0; i < 5; i++)
      expect(line(off.mail({ clientAddress: '192.0.2.9', authUser: undefined }))).toBe('accept');
  });
});
