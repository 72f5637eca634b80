/**
 * Mailpit's chaos triggers (Sender, Recipient, Authentication: an error code and a
 * probability in percent) mapped onto our fault rules for the mail, rcpt and auth stages.
 */
import type { FaultRules, FaultStage } from '../faults/rules.js';

const TRIGGERS = { Sender: 'mail', Recipient: 'rcpt', Authentication: 'auth' } as const satisfies Record<
  string,
  FaultStage
>;
type Trigger = keyof typeof TRIGGERS;

/** Chaos rules are told apart from others by their text. */
const CHAOS_TEXT = 'Chaos triggered';

export function chaosFromFaults(faults: FaultRules) {
  const out: Record<Trigger, { ErrorCode: number; Probability: number }> = {
    Sender: { ErrorCode: 451, Probability: 0 },
    Recipient: { ErrorCode: 451, Probability: 0 },
    Authentication: { ErrorCode: 451, Probability: 0 },
  };
  for (const rule of faults.list()) {
    const trigger = (Object.keys(TRIGGERS) as Trigger[]).find((t) => TRIGGERS[t] === rule.stage);
    if (!trigger || rule.reply?.text !== CHAOS_TEXT) continue;
    out[trigger] = { ErrorCode: rule.reply.code, Probability: Math.round((rule.probability ?? 1) * 100) };
  }
  return out;
}

/** Replaces the chaos rules; returns a problem naming the field, or undefined. */
export function faultsFromChaos(faults: FaultRules, body: Record<string, unknown>): string | undefined {
  const wanted: { stage: FaultStage; code: number; probability: number }[] = [];
  for (const trigger of Object.keys(TRIGGERS) as Trigger[]) {
    const value = body[trigger];
    if (value === undefined) continue;
    const record = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
    const code = record.ErrorCode;
    const probability = record.Probability;
    if (typeof code !== 'number' || code < 400 || code > 599) return `${trigger}.ErrorCode: must be 400-599`;
    if (typeof probability !== 'number' || probability < 0 || probability > 100) {
      return `${trigger}.Probability: must be 0-100`;
    }
    wanted.push({ stage: TRIGGERS[trigger], code, probability });
  }
  const stages = new Set(wanted.map((w) => w.stage));
  faults.removeWhere(
    (rule) => rule.reply?.text === CHAOS_TEXT && (stages.size === 0 || stages.has(rule.stage)),
  );
  for (const w of wanted) {
    if (w.probability === 0) continue;
    faults.add({
      stage: w.stage,
      reply: { code: w.code, text: CHAOS_TEXT },
      probability: w.probability / 100,
    });
  }
  return undefined;
}
