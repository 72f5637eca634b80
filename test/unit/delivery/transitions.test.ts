import { describe, expect, it } from 'vitest';
import {
  localOutcome,
  replyOutcome,
  type Outcome,
  type RecipientResult,
} from '../../../src/delivery/outcome.js';
import { initialState, type DeliveryState, type NoticeKind } from '../../../src/delivery/state.js';
import {
  applyOperator,
  applyResults,
  wantsNotice,
  type Action,
  type MessageFacts,
  type OperatorOp,
  type RetryPolicy,
} from '../../../src/delivery/transitions.js';
import type { Envelope } from '../../../src/spool/envelope.js';
import { testEnvelope } from '../../helpers/envelope.js';

const received = '2026-11-30T10:00:00.000Z';
const at = (seconds: number): Date => new Date(Date.parse(received) + seconds * 1000);
const policy: RetryPolicy = {
  giveUpAfterSeconds: 3600,
  delayWarningSeconds: 600,
  retryDelaySeconds: (attempts) => 60 * attempts,
};

function message(
  rcpts: readonly { address: string; notify?: readonly string[] }[],
  mailFrom = 'sender@a.test',
): Envelope {
  return testEnvelope('0MWSF89GCAQP4Q8F3', 10, { receivedAt: received, mailFrom, rcptTo: rcpts });
}

const fresh = (facts: Envelope, captured: readonly string[] = []): DeliveryState =>
  initialState(facts, new Set(captured), (a) => a.slice(a.lastIndexOf('@') + 1));

/** The kinds of reply a hop gives one recipient, as the courier reports them. */
const replies: Record<string, Outcome> = {
  '2xx': replyOutcome('250 2.0.0 Ok: queued', 'mx.b.test'),
  '4xx': replyOutcome('451 4.7.1 Greylisted', 'mx.b.test'),
  '5xx': replyOutcome('550 5.1.1 No such user', 'mx.b.test'),
  // No reply at all: the connection timed out (ours, temporary).
  timeout: localOutcome('4.4.2', 'lost connection with mx.b.test: timed out', 'mx.b.test'),
};
type Reply = keyof typeof replies;
const expectedStatus: Record<Reply, string> = {
  '2xx': 'delivered',
  '4xx': 'deferred',
  '5xx': 'failed',
  timeout: 'deferred',
};

const types = (actions: readonly Action[]) =>
  actions.map((a) =>
    a.type === 'notify' ? `notify:${a.notice.kind}:${a.notice.recipients.join(',')}` : a.type,
  );

describe('applyResults: every combination of replies for two recipients', () => {
  const kinds = Object.keys(replies);
  const cases = kinds.flatMap((one) => kinds.map((two) => [one, two] as const));
  it.each(cases)('one %s, two %s', (one, two) => {
    const facts = message([{ address: 'one@b.test' }, { address: 'two@b.test' }]);
    const results: RecipientResult[] = [
      { address: 'one@b.test', outcome: replies[one] as Outcome },
      { address: 'two@b.test', outcome: replies[two] as Outcome },
    ];
    const { state, actions } = applyResults(fresh(facts), facts, results, at(1), policy);
    expect(state.recipients.map((r) => r.status)).toEqual([expectedStatus[one], expectedStatus[two]]);
    expect(state.recipients.map((r) => r.outcome)).toEqual([replies[one], replies[two]]);
    expect(state.attempts).toBe(1);
    // A failure is reported in this very attempt, whatever the other recipient got.
    const failed = (['one', 'two'] as const)
      .filter((_, i) => [one, two][i] === '5xx')
      .map((n) => `${n}@b.test`);
    const open = [one, two].some((r) => r === '4xx' || r === 'timeout');
    expect(types(actions)).toEqual([
      ...(failed.length > 0 ? [`notify:failed:${failed.join(',')}`] : []),
      open ? 'retry' : 'remove',
    ]);
    expect(state.outbox).toEqual(failed.length > 0 ? [{ kind: 'failed', recipients: failed }] : []);
    if (open) expect(state.nextAttemptAt).toBe(at(61).toISOString());
  });
});

describe('applyResults: what happens over time', () => {
  const facts = message([{ address: 'slow@b.test' }, { address: 'gone@b.test' }]);
  const deferred = (address: string): RecipientResult => ({ address, outcome: replies['4xx'] as Outcome });

  it('a failure reported in an earlier attempt is not reported again', () => {
    const first = applyResults(
      fresh(facts),
      facts,
      [deferred('slow@b.test'), { address: 'gone@b.test', outcome: replies['5xx'] as Outcome }],
      at(1),
      policy,
    );
    const second = applyResults(
      { ...first.state, outbox: [] },
      facts,
      [deferred('slow@b.test')],
      at(100),
      policy,
    );
    expect(types(second.actions)).toEqual(['retry']);
    expect(second.state.attempts).toBe(2);
  });

  it.each([
    // seconds since receipt, actions, why
    [599, ['retry'], 'younger than delayWarningSeconds: no warning yet'],
    [600, ['notify:delayed:slow@b.test', 'retry'], 'at the warning age: one delayed DSN'],
    [3599, ['notify:delayed:slow@b.test', 'retry'], 'just before giving up'],
    [3600, ['notify:failed:slow@b.test', 'remove'], 'at giveUpAfterSeconds: failed (4.4.7) and bounced'],
  ] as const)('deferred at %s s -> %j (%s)', (seconds, expected, _why) => {
    const state = fresh(message([{ address: 'slow@b.test' }]));
    const { actions } = applyResults(
      state,
      message([{ address: 'slow@b.test' }]),
      [deferred('slow@b.test')],
      at(seconds),
      policy,
    );
    expect(types(actions)).toEqual(expected);
  });

  it('giving up keeps the last reply in the reason and its host, with Status 4.4.7', () => {
    const facts1 = message([{ address: 'slow@b.test' }]);
    const { state } = applyResults(fresh(facts1), facts1, [deferred('slow@b.test')], at(3600), policy);
    expect(state.recipients[0]).toMatchObject({ status: 'failed', reported: true });
    expect(state.recipients[0]?.outcome).toEqual({
      enhanced: '4.4.7',
      text: 'gave up: still undeliverable after 3600 s (Greylisted)',
      permanent: true,
      remoteMta: 'mx.b.test',
    });
  });

  it('the delay warning is sent once', () => {
    const facts1 = message([{ address: 'slow@b.test' }]);
    const first = applyResults(fresh(facts1), facts1, [deferred('slow@b.test')], at(700), policy);
    const second = applyResults(
      { ...first.state, outbox: [] },
      facts1,
      [deferred('slow@b.test')],
      at(900),
      policy,
    );
    expect(types(second.actions)).toEqual(['retry']);
  });

  it('a captured recipient is final from the start (its copy is the sink’s): the message is removed once the rest are final', () => {
    const facts1 = message([{ address: 'a@capture.test' }, { address: 'b@b.test' }]);
    const { actions } = applyResults(
      fresh(facts1, ['capture.test']),
      facts1,
      [{ address: 'b@b.test', outcome: replies['2xx'] as Outcome }],
      at(1),
      policy,
    );
    expect(types(actions)).toEqual(['remove']);
  });

  it('the null sender is never answered (no bounce loops)', () => {
    const facts1 = message([{ address: 'gone@b.test' }], '');
    const { state, actions } = applyResults(
      fresh(facts1),
      facts1,
      [{ address: 'gone@b.test', outcome: replies['5xx'] as Outcome }],
      at(1),
      policy,
    );
    expect(types(actions)).toEqual(['remove']);
    expect(state.outbox).toEqual([]);
  });
});

describe('NOTIFY (RFC 3461)', () => {
  it.each([
    // NOTIFY, reply, relayed (hop without DSN), notice, why
    [undefined, '5xx', false, 'failed', 'no NOTIFY: failures are reported'],
    [['FAILURE'], '5xx', false, 'failed', 'asked for failures'],
    [['NEVER'], '5xx', false, undefined, 'NEVER: nothing, ever'],
    [['SUCCESS'], '5xx', false, undefined, 'only success was asked for'],
    [['DELAY'], '5xx', false, undefined, 'only delays were asked for'],
    [['SUCCESS', 'FAILURE'], '5xx', false, 'failed', 'both'],
    [undefined, '2xx', true, undefined, 'no NOTIFY: success is not reported'],
    [['SUCCESS'], '2xx', true, 'relayed', 'the hop does no DSN: we say "relayed"'],
    [['SUCCESS'], '2xx', false, undefined, 'the hop does DSN and got NOTIFY: it reports, not us'],
    [['FAILURE'], '2xx', true, undefined, 'success not asked for'],
    [['NEVER'], '2xx', true, undefined, 'NEVER'],
  ] as const)('NOTIFY=%j, %s, relayed=%s -> %s (%s)', (notify, reply, relayed, notice, _why) => {
    const facts = message([{ address: 'x@b.test', ...(notify ? { notify } : {}) }]);
    const result: RecipientResult = {
      address: 'x@b.test',
      outcome: replies[reply] as Outcome,
      ...(relayed ? { relayed } : {}),
    };
    const { state } = applyResults(fresh(facts), facts, [result], at(1), policy);
    expect(state.outbox).toEqual(notice ? [{ kind: notice, recipients: ['x@b.test'] }] : []);
  });

  it.each([
    [undefined, 'delayed', true],
    [['DELAY'], 'delayed', true],
    [['FAILURE'], 'delayed', false],
    [['NEVER'], 'delayed', false],
  ] as const)('NOTIFY=%j, %s -> %s', (notify, kind: NoticeKind, wanted) => {
    expect(wantsNotice(notify, kind)).toBe(wanted);
  });
});

describe('applyOperator', () => {
  const facts: MessageFacts = message([{ address: 'done@b.test' }, { address: 'slow@b.test' }]);
  const afterOne = applyResults(
    fresh(message([{ address: 'done@b.test' }, { address: 'slow@b.test' }])),
    facts,
    [
      { address: 'done@b.test', outcome: replies['2xx'] as Outcome },
      { address: 'slow@b.test', outcome: replies['4xx'] as Outcome },
    ],
    at(1),
    policy,
  ).state;
  const held: DeliveryState = { ...afterOne, held: true, commandSeq: 1 };

  it.each([
    // op, from, held after, actions, why
    ['hold', 'deferred', true, [], 'held: never attempted until released'],
    ['release', 'held', false, ['retry'], 'released: due now'],
    ['flush', 'deferred', false, ['retry'], 'flush: due now'],
    ['flush', 'held', true, [], 'flush leaves a held message held'],
    ['delete', 'deferred', false, ['remove'], 'delete: gone, no DSN'],
    [
      'bounce',
      'deferred',
      false,
      ['notify:failed:slow@b.test', 'remove'],
      'bounce: open recipients fail, the sender is told',
    ],
    ['bounce', 'held', false, ['notify:failed:slow@b.test', 'remove'], 'bounce works on a held message too'],
  ] as const)('%s a %s message (%s)', (op: OperatorOp, fromName, heldAfter, expected, _why) => {
    const from = fromName === 'held' ? held : afterOne;
    const { state, actions } = applyOperator(from, facts, { op, seq: 5 }, at(50), policy);
    expect(types(actions)).toEqual(expected);
    expect(state.held).toBe(heldAfter);
    expect(state.commandSeq).toBe(5);
    if (op === 'release' || op === 'flush')
      expect(state.nextAttemptAt).toBe(heldAfter ? held.nextAttemptAt : at(50).toISOString());
  });

  it('an operator bounce replaces the last reply: no stale Remote-MTA, status 5.0.0, not an SMTP reply', () => {
    const { state } = applyOperator(afterOne, facts, { op: 'bounce', seq: 1 }, at(50), policy);
    expect(state.recipients[1]?.outcome).toEqual({
      enhanced: '5.0.0',
      text: 'returned to the sender by the operator',
      permanent: true,
    });
    // The delivered recipient keeps its own outcome.
    expect(state.recipients[0]?.outcome).toEqual(replies['2xx']);
  });

  it.each([
    [3, 'an older command left in control/'],
    [5, 'the same command again'],
  ])('a command numbered %s after command 5 is stale and changes nothing (%s)', (seq) => {
    const later: DeliveryState = { ...held, commandSeq: 5 };
    const result = applyOperator(later, facts, { op: 'release', seq }, at(60), policy);
    expect(result.state).toBe(later);
    expect(result.actions).toEqual([]);
  });
});

describe('applyResults with recipients postponed by our own rate limit', () => {
  const limited = localOutcome(
    '4.7.0',
    'message rate limit for b.test reached (1 message per minute); next try in 20 s',
  );
  const postponed = (address: string, ms: number): RecipientResult => ({
    address,
    outcome: limited,
    postponedMs: ms,
  });
  const two = message([{ address: 'x@b.test' }, { address: 'y@c.test' }]);

  it.each([
    // why: nothing was attempted, so no attempt is counted and the wait is the window's, not the backoff's
    ['all postponed', [postponed('x@b.test', 20_000), postponed('y@c.test', 5_000)], 0, 5],
    // why: one recipient was attempted (an attempt), the other is due when its window frees, before the backoff
    [
      'one postponed, one deferred by the hop',
      [postponed('x@b.test', 20_000), { address: 'y@c.test', outcome: replies['4xx'] as Outcome }],
      1,
      20,
    ],
    // why: a backoff shorter than the wait comes first
    [
      'postponed longer than the backoff',
      [postponed('x@b.test', 600_000), { address: 'y@c.test', outcome: replies['4xx'] as Outcome }],
      1,
      60,
    ],
  ])('%s: attempts %i, due again after %i s', (_, results, attempts, dueSeconds) => {
    const transition = applyResults(fresh(two), two, results, at(0), policy);
    expect(transition.state.attempts).toBe(attempts);
    expect(transition.state.nextAttemptAt).toBe(at(dueSeconds).toISOString());
    expect(transition.state.recipients.find((r) => r.address === 'x@b.test')).toMatchObject({
      status: 'deferred',
      outcome: limited,
    });
  });
});
