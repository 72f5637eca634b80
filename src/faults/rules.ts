/**
 * Fault injection: rules that make a stage of the pipeline answer with a chosen reply,
 * wait, or drop the connection. Deterministic by default (counts, not chance) and per
 * server instance, so two servers in one test never share rules.
 */
import type { SmtpReply } from '../smtp/replies.js';

export const FAULT_STAGES = ['connect', 'ehlo', 'auth', 'mail', 'rcpt', 'data', 'after-data'] as const;
export type FaultStage = (typeof FAULT_STAGES)[number];

export type FaultAction =
  | { readonly kind: 'reply'; readonly reply: SmtpReply }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'drop' };

export type AddressPattern = string | RegExp;

export interface FaultRule {
  readonly stage: FaultStage;
  /** Only when the envelope sender matches (substring, case-insensitive, or RegExp). */
  readonly sender?: AddressPattern;
  /** Only when the recipient (rcpt stage) or any recipient (later stages) matches. */
  readonly recipient?: AddressPattern;
  /** Answer with this reply (code, enhanced status, text). */
  readonly reply?: { readonly code: number; readonly enhanced?: string; readonly text?: string };
  /** Wait this long before going on (or before the reply, when both are given). */
  readonly delayMs?: number;
  /** Close the connection without a reply. */
  readonly drop?: boolean;
  /** Fire only this many times, then let everything through: "fail the first 2, then accept". */
  readonly count?: number;
  /** Fire with this probability (0..1) for chaos runs; default 1. */
  readonly probability?: number;
}

export interface FaultFacts {
  readonly sender?: string;
  readonly recipients?: readonly string[];
}

function matches(pattern: AddressPattern | undefined, values: readonly string[]): boolean {
  if (pattern === undefined) return true;
  return values.some((value) =>
    typeof pattern === 'string' ? value.toLowerCase().includes(pattern.toLowerCase()) : pattern.test(value),
  );
}

/** The default enhanced code for a basic code class, when a rule gives none. */
function defaultEnhanced(code: number): string {
  return `${String(Math.floor(code / 100))}.0.0`;
}

export function ruleReply(rule: FaultRule): SmtpReply | undefined {
  if (!rule.reply) return undefined;
  const { code } = rule.reply;
  return {
    code,
    enhanced: rule.reply.enhanced ?? defaultEnhanced(code),
    text: rule.reply.text ?? 'Injected fault',
  };
}

/** Problems with a rule, each naming the field, for config validation and the API. */
export function ruleProblems(rule: FaultRule): string[] {
  const problems: string[] = [];
  if (!FAULT_STAGES.includes(rule.stage)) problems.push(`stage: must be one of ${FAULT_STAGES.join(', ')}`);
  if (rule.reply === undefined && rule.delayMs === undefined && rule.drop !== true) {
    problems.push('one of reply, delayMs or drop is needed');
  }
  if (rule.reply && !(rule.reply.code >= 400 && rule.reply.code <= 599)) {
    problems.push('reply.code: must be a 4xx or 5xx code');
  }
  if (rule.reply?.enhanced !== undefined) {
    const klass = String(Math.floor(rule.reply.code / 100));
    if (!new RegExp(`^${klass}\\.\\d{1,3}\\.\\d{1,3}$`).test(rule.reply.enhanced)) {
      problems.push(`reply.enhanced: must look like ${klass}.X.Y to match code ${String(rule.reply.code)}`);
    }
  }
  if (rule.reply?.text !== undefined && /[\r\n]/.test(rule.reply.text))
    problems.push('reply.text: no line breaks');
  if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) {
    problems.push('probability: must be between 0 and 1');
  }
  if (rule.count !== undefined && !(Number.isInteger(rule.count) && rule.count >= 1)) {
    problems.push('count: must be a whole number of 1 or more');
  }
  if (rule.delayMs !== undefined && !(rule.delayMs >= 0 && rule.delayMs <= 600_000)) {
    problems.push('delayMs: must be between 0 and 600000');
  }
  return problems;
}

interface ActiveRule {
  readonly id: number;
  readonly rule: FaultRule;
  fired: number;
}

/** The live rule set of one server. */
export class FaultRules {
  private rules: ActiveRule[] = [];
  private nextId = 1;

  constructor(private readonly random: () => number = Math.random) {}

  /** Adds a rule; returns its id. Throws a TypeError naming the bad field. */
  add(rule: FaultRule): number {
    const problems = ruleProblems(rule);
    if (problems.length > 0) throw new TypeError(`invalid fault rule: ${problems.join('; ')}`);
    const id = this.nextId++;
    this.rules.push({ id, rule, fired: 0 });
    return id;
  }

  remove(id: number): void {
    this.rules = this.rules.filter((active) => active.id !== id);
  }

  clear(): void {
    this.rules = [];
  }

  removeWhere(predicate: (rule: FaultRule) => boolean): void {
    this.rules = this.rules.filter((active) => !predicate(active.rule));
  }

  /** No rules: the session skips fault checks (and the facts they need) on its hot path. */
  get empty(): boolean {
    return this.rules.length === 0;
  }

  list(): readonly FaultRule[] {
    return this.rules.map((active) => active.rule);
  }

  /** How many times a rule has fired, so a test can wait for or assert on it. */
  fired(id: number): number {
    return this.rules.find((active) => active.id === id)?.fired ?? 0;
  }

  /**
   * What the first matching rule does at this stage, in order: a delay (if any) then a
   * reply or a drop. Counting happens here, so a rule with count: 2 fires twice in all.
   */
  evaluate(stage: FaultStage, facts: FaultFacts): FaultAction[] {
    for (const active of this.rules) {
      const { rule } = active;
      if (rule.stage !== stage) continue;
      if (rule.count !== undefined && active.fired >= rule.count) continue;
      if (rule.sender !== undefined && (facts.sender === undefined || !matches(rule.sender, [facts.sender])))
        continue;
      if (!matches(rule.recipient, facts.recipients ?? [])) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      active.fired++;
      const actions: FaultAction[] = [];
      if (rule.delayMs !== undefined) actions.push({ kind: 'delay', ms: rule.delayMs });
      const reply = ruleReply(rule);
      if (rule.drop === true) actions.push({ kind: 'drop' });
      else if (reply) actions.push({ kind: 'reply', reply });
      return actions;
    }
    return [];
  }
}
