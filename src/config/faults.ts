import type { AddressPattern, FaultRule } from '../faults/rules.js';
import type { FaultRuleConfig } from './schema.js';

/** "/^bob@/i" in YAML is a RegExp; anything else a case-insensitive substring. */
function pattern(value: string | undefined): AddressPattern | undefined {
  if (value === undefined) return undefined;
  const literal = /^\/(.*)\/([a-z]*)$/.exec(value);
  return literal ? new RegExp(literal[1] ?? '', literal[2]) : value;
}

export function faultRuleFromConfig(rule: FaultRuleConfig): FaultRule {
  const sender = pattern(rule.sender);
  const recipient = pattern(rule.recipient);
  return {
    stage: rule.stage,
    ...(sender === undefined ? {} : { sender }),
    ...(recipient === undefined ? {} : { recipient }),
    ...(rule.reply === undefined
      ? {}
      : {
          reply: {
            code: rule.reply.code,
            ...(rule.reply.enhanced === undefined ? {} : { enhanced: rule.reply.enhanced }),
            ...(rule.reply.text === undefined ? {} : { text: rule.reply.text }),
          },
        }),
    ...(rule.delayMs === undefined ? {} : { delayMs: rule.delayMs }),
    ...(rule.drop === undefined ? {} : { drop: rule.drop }),
    ...(rule.count === undefined ? {} : { count: rule.count }),
    ...(rule.probability === undefined ? {} : { probability: rule.probability }),
  };
}
