import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/sink/database.js';
import { MessageIndex } from '../../../src/sink/message-index.js';
import { migrate } from '../../../src/sink/migrations.js';
import type { Summary } from '../../../src/sink/summary.js';
import {
  addressTags,
  cleanTag,
  intakeTagging,
  mergeTags,
  plusTags,
  ruleTags,
  tagRuleProblems,
  type IntakeTagging,
} from '../../../src/sink/tag-rules.js';

const address = (Address: string) => ({ Name: '', Address });

function summary(id: string, fields: Partial<Summary> = {}, authUser?: string): Summary {
  return {
    id,
    envelope: {
      version: 1,
      id,
      receivedAt: '2026-11-30T12:00:00.000Z',
      size: 100,
      mailFrom: 'app@example.com',
      rcptTo: [{ address: 'dev@example.org' }],
      smtputf8: false,
      client: { address: '127.0.0.1', port: 1, helo: 'test' },
      listener: { name: 'smtp', role: 'relay', port: 25 },
      ...(authUser === undefined ? {} : { authUser }),
      state: 'captured',
    },
    messageId: `${id}@example.com`,
    from: address('app@example.com'),
    to: [address('dev@example.org')],
    cc: [],
    bcc: [],
    replyTo: [],
    subject: '',
    date: '2026-11-30T12:00:00.000Z',
    created: '2026-11-30T12:00:00.000Z',
    size: 100,
    attachments: [],
    snippet: '',
    tags: [],
    searchText: '',
    complete: true,
    parseError: undefined,
    ...fields,
  };
}

const ALL: IntakeTagging = { rules: [], username: true, plusAddresses: true };
const NONE: IntakeTagging = { rules: [], username: false, plusAddresses: false };

describe('plusTags', () => {
  it.each([
    // address, tags, why
    ['dev@example.org', [], 'no plus, no tag'],
    ['dev+run1@example.org', ['run1'], 'what follows the plus'],
    ['dev+a+b@example.org', ['a', 'b'], 'Mailpit splits on each further plus'],
    ['dev+@example.org', [''], 'an empty tag (dropped later by cleaning)'],
    ['a+b', [], 'not an address: no @'],
    ['dev@ex+ample.org', [], 'a plus in the domain is not a tag'],
  ] as const)('%s -> %j (%s)', (input, tags, _why) => {
    expect(plusTags(input)).toEqual(tags);
  });
});

describe('cleanTag', () => {
  it.each([
    ['urgent!', 'urgent', 'other characters are dropped'],
    ['  two   words ', 'two words', 'spaces collapse and are trimmed'],
    [
      'dev@example.org',
      'dev@example.org',
      "'@' is kept (Mailpit's ValidTagRegexp), so a user name reads as itself",
    ],
    ['x'.repeat(120), 'x'.repeat(100), 'at most 100 characters'],
  ] as const)('%j -> %j (%s)', (input, cleaned, _why) => {
    expect(cleanTag(input)).toBe(cleaned);
  });
});

describe('addressTags', () => {
  it.each([
    // message, tagging, tags, why
    [summary('a'), ALL, [], 'no plus address and no AUTH user: nothing'],
    [summary('a', { tags: ['from-header'] }), ALL, ['from-header'], 'X-Tags stay first'],
    [
      summary('a', { to: [address('qa+Run1@example.org')] }),
      ALL,
      ['Run1'],
      'a To plus address, spelling kept',
    ],
    [summary('a', { cc: [address('qa+cc@example.org')] }), ALL, ['cc'], 'Cc counts'],
    [summary('a', { bcc: [address('qa+bcc@example.org')] }), ALL, ['bcc'], 'Bcc counts'],
    [summary('a', { from: address('app+from@example.com') }), ALL, ['from'], 'From counts (as Mailpit)'],
    [
      summary('a', {
        envelope: { ...summary('a').envelope, rcptTo: [{ address: 'hidden+env@example.org' }] },
      }),
      ALL,
      ['env'],
      'an envelope-only recipient counts: Mailpit adds it to Bcc',
    ],
    [
      summary('a', { tags: ['run1'], to: [address('qa+RUN1@example.org')] }),
      ALL,
      ['run1'],
      'tags compare without case; the first spelling stays',
    ],
    [summary('a', { to: [address('qa+run1@example.org')] }), NONE, [], 'plus addresses off'],
    [summary('a', {}, 'alice@example.com'), ALL, ['alice@example.com'], 'the AUTH user'],
    [summary('a', {}, 'alice'), NONE, [], 'tagUsername off'],
    [summary('a', {}, 'bob!'), ALL, ['bob'], 'the user name is cleaned like any tag'],
  ] as const)('%#: %s', (message, tagging, tags, _why) => {
    expect(addressTags(message, tagging)).toEqual(tags);
  });
});

describe('mergeTags', () => {
  it.each([
    [[], ['a'], ['a']],
    [['a'], ['A', 'b'], ['a', 'b']],
    [
      ['a', 'b'],
      ['b', 'a'],
      ['a', 'b'],
    ],
    [['x'], [''], ['x']],
  ] as const)('%j + %j -> %j', (existing, added, merged) => {
    expect(mergeTags(existing, added)).toEqual(merged);
  });
});

describe('tagRuleProblems', () => {
  it('names the field of each match the search parser refuses', () => {
    const tagRules = [
      { match: 'subject:invoice', tags: ['billing'] },
      { match: 'larger:huge', tags: ['big'] },
      { match: 'is:starred', tags: ['star'] },
    ];
    expect(tagRuleProblems({ tagRules })).toEqual([
      { path: ['sink', 'tagRules', 1, 'match'], message: 'not a size: huge' },
      { path: ['sink', 'tagRules', 2, 'match'], message: 'unknown is:starred' },
    ]);
  });
});

/** Rules matched by the search compiler against real rows in a real index. */
describe('ruleTags against the index', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailwharf-tag-rules-'));
  const db = openDatabase(join(dir, 'sink.sqlite'));
  migrate(db);
  const index = new MessageIndex(db);
  afterAll(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const rules = intakeTagging({
    tagUsername: false,
    plusAddressTags: false,
    tagRules: [
      { match: 'subject:invoice', tags: ['billing'] },
      { match: 'from:shop@example.com', tags: ['shop', 'orders'] },
      { match: '"order number"', tags: ['has-order'] },
      { match: '-subject:invoice larger:1k', tags: ['big'] },
      { match: 'tag:vip', tags: ['priority'] },
    ],
  }).rules;

  let n = 0;
  it.each([
    // fields, tags, why
    [{ subject: 'Your Invoice 42' }, ['billing'], 'a header search, case-insensitive substring'],
    [{ from: address('shop@example.com') }, ['shop', 'orders'], 'every tag of the rule'],
    [{ searchText: 'your order number is 7' }, ['has-order'], 'a quoted phrase over the body'],
    [
      { subject: 'invoice', from: address('shop@example.com') },
      ['billing', 'shop', 'orders'],
      'rules add up, in rule order',
    ],
    [{ size: 4096 }, ['big'], 'negation and size together'],
    [{ subject: 'invoice', size: 4096 }, ['billing'], 'the negated term stops the size rule'],
    [{ tags: ['VIP'] }, ['priority'], 'tag: sees the tags the message came with'],
    [{ subject: 'hello' }, [], 'no rule matches'],
  ] as const)('%j -> %j (%s)', (fields, tags, _why) => {
    const id = `M${String(++n).padStart(16, '0')}`;
    expect(index.insertAll([summary(id, fields)])[0]).toBe(true);
    expect(ruleTags(rules, (condition) => index.matches(id, condition))).toEqual(tags);
  });
});
