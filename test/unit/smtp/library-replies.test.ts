import { describe, expect, it } from 'vitest';
import { policySchema } from '../../../src/config/schema.js';
import type { LibraryReply } from '../../../src/smtp/library-hooks.js';
import { libraryReplyFor } from '../../../src/smtp/library-replies.js';
import {
  hasEnhancedCode,
  queued,
  renderReply,
  replies,
  replyError,
  replyText,
  type SmtpReply,
} from '../../../src/smtp/replies.js';

const catalogue = Object.entries<SmtpReply>(replies);

describe('the reply catalogue', () => {
  it.each(catalogue)('%s: the enhanced code’s class is the basic code’s first digit', (_name, reply) => {
    // RFC 3463 §2: the class of the enhanced code matches that of the basic reply code.
    expect(reply.enhanced).toMatch(/^[245]\.\d{1,3}\.\d{1,3}$/);
    expect(reply.enhanced[0]).toBe(String(reply.code)[0]);
    expect(reply.code).toBeGreaterThanOrEqual(200);
    expect(reply.code).toBeLessThan(600);
  });

  it.each(catalogue)(
    '%s: one line of client-safe text, recognised as ours by hasEnhancedCode',
    (_name, reply) => {
      expect(reply.text).toMatch(/^[\x20-\x7e]+$/);
      expect(hasEnhancedCode(replyText(reply))).toBe(true);
    },
  );

  it.each([
    // name, code, enhanced, why
    ['tooManyConnections', 421, '4.7.0', 'a 421 closes the connection: the client retries later'],
    ['authRequired', 530, '5.7.0', 'RFC 4954 §6: authentication required'],
    ['authNeedsTls', 538, '5.7.11', 'RFC 4954 §6: encryption required for the mechanism'],
    ['authFailed', 535, '5.7.8', 'RFC 4954 §6: credentials invalid'],
    ['relayDenied', 554, '5.7.1', 'Postfix’s relay access denied'],
    ['messageTooBig', 552, '5.3.4', 'RFC 3463: message too big for system'],
    ['tooManyRecipients', 452, '4.5.3', 'RFC 5321 §4.5.3.1.10: a 452, so the client sends the rest later'],
    ['tooManyHops', 554, '5.4.6', 'RFC 3463: routing loop detected'],
  ] as const)('%s is %i %s (%s)', (name, code, enhanced, _why) => {
    expect(replies[name]).toMatchObject({ code, enhanced });
  });

  it('queued names the queue id in a 250 2.0.0', () => {
    expect(renderReply(queued('0MWSF89GCAQP4Q8F3'))).toBe('250 2.0.0 Ok: queued as 0MWSF89GCAQP4Q8F3');
  });
});

describe('rendering', () => {
  it.each([
    // reply, rendered, why
    [replies.relayDenied, '554 5.7.1 Relay access denied', 'code, enhanced code, text, one space apart'],
    [replies.authSucceeded, '235 2.7.0 Authentication successful', 'a success reply'],
    [{ code: 451, enhanced: '4.3.0', text: 'x' }, '451 4.3.0 x', 'any reply'],
  ] as const)('renderReply -> %j (%s)', (reply, rendered, _why) => {
    expect(renderReply(reply)).toBe(rendered);
    expect(`${String(reply.code)} ${replyText(reply)}`).toBe(rendered);
  });

  it('replyError carries the code for smtp-server and our enhanced code and text as its message', () => {
    const error = replyError(replies.senderNotOwned);
    expect(error).toBeInstanceOf(Error);
    expect(error.responseCode).toBe(553);
    expect(error.message).toBe('5.7.1 Sender address not owned by the authenticated user');
  });
});

describe('hasEnhancedCode', () => {
  it.each([
    // text, has one, why
    ['5.7.1 Relay access denied', true, 'a catalogue reply'],
    ['2.0.0 Ok', true, 'a success'],
    ['4.7.0 ', true, 'a code and nothing more'],
    ['5.123.456 x', true, 'three-digit subject and detail'],
    ['Error: command not recognized', false, 'smtp-server’s own text'],
    ['5.7.1', false, 'no space after the code'],
    ['5.7.1x', false, 'the code runs into the text'],
    ['3.0.0 x', false, 'RFC 3463 has no class 3'],
    ['5.1000.1 x', false, 'a subject of four digits'],
    ['5.7 x', false, 'two parts only'],
    [' 5.7.1 x', false, 'a leading space: not at the start'],
    ['', false, 'empty'],
  ] as const)('%j -> %s (%s)', (text, expected, _why) => {
    expect(hasEnhancedCode(text)).toBe(expected);
  });
});

describe('libraryReplyFor', () => {
  const policies = {
    'auth none': policySchema.parse({ auth: 'none' }),
    'auth after TLS': policySchema.parse({ auth: 'required', authRequiresTls: true }),
    'auth in plain text': policySchema.parse({ auth: 'optional', authRequiresTls: false }),
  };
  const lib = (code: number, text: string, context: LibraryReply['context']): LibraryReply => ({
    code,
    text,
    context,
  });
  const notRecognized = lib(500, 'Error: command not recognized', 'AUTH');

  it.each([
    // policy, library reply, secure, the catalogue reply sent instead (undefined keeps the library's), why
    [
      'auth after TLS',
      notRecognized,
      false,
      'authNeedsTls',
      'AUTH before STARTTLS: say TLS is needed, as Postfix does',
    ],
    ['auth after TLS', notRecognized, true, 'authNotOffered', 'AUTH disabled although secure: not offered'],
    [
      'auth none',
      notRecognized,
      false,
      'authNotOffered',
      'a policy without AUTH: not offered, TLS would not help',
    ],
    ['auth none', notRecognized, true, 'authNotOffered', 'likewise under TLS'],
    ['auth in plain text', notRecognized, false, 'authNotOffered', 'AUTH allowed in plain text yet disabled'],
    [
      'auth after TLS',
      lib(500, 'Error: command not recognized', 'FOO'),
      false,
      undefined,
      'another unknown command',
    ],
    ['auth after TLS', lib(500, 'Error: command not recognized', false), false, undefined, 'no context'],
    [
      'auth none',
      lib(552, 'Error: message exceeds fixed maximum message size 1000', 'MESSAGE_TOO_BIG'),
      false,
      'messageTooBig',
      'the size limit, with our enhanced code',
    ],
    [
      'auth none',
      lib(452, 'Error: too many recipients', 'TOO_MANY_RECIPIENTS'),
      false,
      'tooManyRecipients',
      'the recipient limit',
    ],
    ['auth none', lib(421, 'mx.example You talk too soon', 'EHLO'), false, 'earlyTalker', 'the greet pause'],
    [
      'auth none',
      lib(421, 'Timeout - closing connection', undefined),
      false,
      'idleTimeout',
      'the idle timeout',
    ],
    ['auth none', lib(421, 'Server shutting down', 'MAIL'), false, 'shuttingDown', 'a shutdown'],
    [
      'auth none',
      lib(421, 'HTTP requests not allowed', 'GET'),
      false,
      undefined,
      'another 421 keeps its text',
    ],
    ['auth none', lib(421, 'Error: too many unrecognized commands', 'FOO'), false, undefined, 'likewise'],
    [
      'auth none',
      lib(550, 'You talk too soon', undefined),
      false,
      undefined,
      'the 421 texts only count on a 421',
    ],
    ['auth none', lib(250, 'OK', 'MAIL'), false, undefined, 'a success is never rewritten'],
    [
      'auth none',
      lib(503, 'Error: need MAIL command', 'RCPT'),
      false,
      undefined,
      'bad sequence keeps the library’s reply',
    ],
  ] as const)('%s, %o, secure %s -> %s (%s)', (policy, reply, secure, replacement, _why) => {
    expect(libraryReplyFor(policies[policy], reply, secure)).toEqual(
      replacement === undefined ? undefined : replies[replacement],
    );
  });
});
