/**
 * The tags a captured message gets at intake, as Mailpit gives them: its X-Tags header (read
 * by summary.ts), plus addresses (user+TAG@…), the SMTP AUTH user (--tags-username) and tag
 * rules (--tag / --tags-config filters: a search query and the tags it adds). A rule's match
 * is compiled by the search parser and tested against the message's own row, in the insert's
 * transaction, so the tags are there before the 250 like the rest of the row (its text is
 * staged in that transaction: rules look at staged text only, see TextScope).
 */
import type { Config } from '../config/schema.js';
import { compileQuery, SearchSyntaxError, type Condition } from './search.js';

export interface TagRule {
  readonly condition: Condition;
  readonly tags: readonly string[];
}

export interface IntakeTagging {
  readonly rules: readonly TagRule[];
  readonly username: boolean;
  readonly plusAddresses: boolean;
}

/**
 * Mailpit's tag cleaning: only letters, digits, '-', '.', '_', '@' and spaces are kept (others
 * are dropped), runs of spaces become one, at most 100 characters.
 */
export function cleanTag(tag: string): string {
  return tag
    .replace(/[^a-zA-Z0-9\-._@ ]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 100)
    .trim();
}

export interface TagRuleProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** Each rule whose match the search parser refuses (e.g. `larger:huge`), by its config path. */
export function tagRuleProblems(sink: Pick<Config['sink'], 'tagRules'>): TagRuleProblem[] {
  return sink.tagRules.flatMap((rule, index) => {
    try {
      compileQuery(rule.match);
      return [];
    } catch (error) {
      if (!(error instanceof SearchSyntaxError)) throw error;
      return [{ path: ['sink', 'tagRules', index, 'match'], message: error.message }];
    }
  });
}

/** The config's tagging, rules compiled once; throws SearchSyntaxError for a bad match (see tagRuleProblems). */
export function intakeTagging(
  sink: Pick<Config['sink'], 'tagRules' | 'tagUsername' | 'plusAddressTags'>,
): IntakeTagging {
  return {
    rules: sink.tagRules.map((rule) => ({ condition: compileQuery(rule.match, 'staged'), tags: rule.tags })),
    username: sink.tagUsername,
    plusAddresses: sink.plusAddressTags,
  };
}

/** user+a+b@example.com tags a and b (Mailpit splits what follows the first '+' on '+'). */
export function plusTags(address: string): string[] {
  const local = /^([^@]*)@/.exec(address)?.[1] ?? '';
  const plus = local.indexOf('+');
  return plus < 0 ? [] : local.slice(plus + 1).split('+');
}

/** What addressTags reads of a message: header addresses, the envelope and its own tags. */
export interface TaggedMessage {
  readonly from: { readonly Address: string } | null;
  readonly to: readonly { readonly Address: string }[];
  readonly cc: readonly { readonly Address: string }[];
  readonly bcc: readonly { readonly Address: string }[];
  readonly envelope: { readonly authUser?: string; readonly rcptTo: readonly { readonly address: string }[] };
  readonly tags: readonly string[];
}

/**
 * A message's tags before its row is written: its own (X-Tags), then those of plus addresses
 * (From, To, Cc, Bcc and envelope recipients: Mailpit adds the envelope's to Bcc), then the
 * AUTH user's name.
 */
export function addressTags(message: TaggedMessage, tagging: IntakeTagging): string[] {
  const plus = tagging.plusAddresses
    ? [
        message.from?.Address ?? '',
        ...[...message.to, ...message.cc, ...message.bcc].map((a) => a.Address),
        ...message.envelope.rcptTo.map((r) => r.address),
      ].flatMap(plusTags)
    : [];
  const user = tagging.username && message.envelope.authUser !== undefined ? [message.envelope.authUser] : [];
  return mergeTags(message.tags, [...plus, ...user].map(cleanTag));
}

/** The tags of the rules whose match holds, in rule order. */
export function ruleTags(rules: readonly TagRule[], holds: (condition: Condition) => boolean): string[] {
  return rules.filter((rule) => holds(rule.condition)).flatMap((rule) => rule.tags);
}

/** `existing` then the tags of `added` it lacks: tags compare without case, the first spelling stays. */
export function mergeTags(existing: readonly string[], added: readonly string[]): string[] {
  const seen = new Set<string>();
  const merged: string[] = [];
  for (const tag of [...existing, ...added]) {
    const key = tag.toLowerCase();
    if (tag === '' || seen.has(key)) continue;
    seen.add(key);
    merged.push(tag);
  }
  return merged;
}
