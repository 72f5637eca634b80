import { scrypt } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, scryptLimiter, verifyPassword } from '../../../src/auth/passwords.js';
import { createAuthenticator } from '../../../src/auth/users.js';
import type { Config } from '../../../src/config/schema.js';

/** One scrypt hash costs ~50 ms, so each password is hashed once for the whole file. */
const hashes = new Map<string, string>();
beforeAll(async () => {
  for (const password of ['correct horse', '', 'pässwörd ✓'])
    hashes.set(password, await hashPassword(password));
});
function hashOf(password: string): string {
  const hash = hashes.get(password);
  if (hash === undefined) throw new Error(`no hash made for ${JSON.stringify(password)}`);
  return hash;
}

describe('hashPassword', () => {
  it('writes scrypt$N=32768,r=8,p=1$<16-byte salt>$<32-byte key>, as config passwordHash expects', () => {
    const hash = hashOf('correct horse');
    expect(hash).toMatch(/^scrypt\$N=32768,r=8,p=1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
  });

  it('salts: two hashes of one password differ, and both verify', async () => {
    const again = await hashPassword('correct horse');
    expect(again).not.toBe(hashOf('correct horse'));
    expect(again.split('$')[2]).not.toBe(hashOf('correct horse').split('$')[2]);
    expect(await verifyPassword('correct horse', again)).toBe(true);
  });
});

describe('verifyPassword', () => {
  it.each([
    // hashed password, password given, verifies, why
    ['correct horse', 'correct horse', true, 'the round trip'],
    ['correct horse', 'Correct horse', false, 'case matters'],
    ['correct horse', 'correct horse ', false, 'a trailing space matters'],
    ['correct horse', 'correct', false, 'a prefix is not the password'],
    ['correct horse', '', false, 'empty is not the password'],
    ['', '', true, 'an empty password still round-trips'],
    ['', ' ', false, 'and only the empty one matches it'],
    ['pässwörd ✓', 'pässwörd ✓', true, 'UTF-8 passwords round-trip'],
    ['pässwörd ✓', 'passwort ✓', false, 'a near miss in UTF-8'],
  ] as const)('%j checked with %j -> %s (%s)', async (hashed, given, verifies, _why) => {
    expect(await verifyPassword(given, hashOf(hashed))).toBe(verifies);
  });

  it.each([
    // stored hash, why
    ['', 'empty'],
    ['correct horse', 'a plain-text password in the config'],
    ['scrypt$', 'the prefix alone'],
    ['$2b$10$abcdefghijklmnopqrstuuJ3L5dS4b8yDqfRmG0z1H1a2b3c4d5e6', 'a bcrypt hash'],
    ['scrypt$N=32768,r=8,p=1$c2FsdA==', 'no key'],
    ['scrypt$N=32768,r=8,p=1$$a2V5', 'an empty salt'],
    ['scrypt$N=32768,r=8$c2FsdA==$a2V5', 'a missing parameter'],
    ['scrypt$N=32768,r=8,p=1$c2Fs*A==$a2V5', 'a salt that is not base64'],
    ['scrypt$N=32768,r=8,p=1$c2FsdA==$a2V5$extra', 'a trailing field'],
    ['SCRYPT$N=32768,r=8,p=1$c2FsdA==$a2V5', 'the scheme in upper case'],
    ['scrypt$N=16,r=1,p=1$c2FsdA==$a2V5', 'a key of the wrong length (3 bytes) can never match'],
  ])('a malformed hash %j verifies nothing (%s)', async (hash, _why) => {
    expect(await verifyPassword('correct horse', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
  });

  it('a hash with impossible scrypt parameters is an error, not a wrong password', async () => {
    // N must be a power of two: this is a broken config, reported as such rather than as
    // a failed login (the SMTP session answers 451 and logs it).
    await expect(verifyPassword('x', 'scrypt$N=3,r=8,p=1$c2FsdA==$a2V5')).rejects.toThrow(/scrypt/i);
  });

  it('a hash made with other parameters still verifies (they are read from the hash)', async () => {
    const cheap = 'scrypt$N=1024,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA==$';
    const key = await new Promise<Buffer>((resolve, reject) => {
      scrypt(
        'pw',
        Buffer.from('c2FsdHNhbHRzYWx0c2FsdA==', 'base64'),
        32,
        { N: 1024, r: 8, p: 1 },
        (error, derived) => {
          if (error) reject(error);
          else resolve(derived);
        },
      );
    });
    const hash = cheap + key.toString('base64');
    expect(await verifyPassword('pw', hash)).toBe(true);
    expect(await verifyPassword('pw2', hash)).toBe(false);
  });
});

describe('createAuthenticator', () => {
  type AuthConfig = Config['auth'];
  const users = (): AuthConfig => ({
    acceptAnyCredentials: false,
    users: [
      { username: 'alice@example.com', passwordHash: hashOf('correct horse') },
      { username: 'bob', passwordHash: hashOf('correct horse') },
      {
        username: 'carol@example.com',
        passwordHash: hashOf('correct horse'),
        addresses: ['carol@example.com', 'sales@example.com'],
      },
      { username: 'app', passwordHash: hashOf('correct horse'), addresses: ['noreply@example.com'] },
    ],
  });

  it.each([
    // username, password, the user it authenticates as (or undefined), why
    [
      'alice@example.com',
      'correct horse',
      { username: 'alice@example.com', addresses: ['alice@example.com'] },
      'an address username owns itself by default',
    ],
    [
      'bob',
      'correct horse',
      { username: 'bob', addresses: [] },
      'a plain username owns no address by default',
    ],
    [
      'carol@example.com',
      'correct horse',
      { username: 'carol@example.com', addresses: ['carol@example.com', 'sales@example.com'] },
      'configured addresses are kept',
    ],
    [
      'app',
      'correct horse',
      { username: 'app', addresses: ['noreply@example.com'] },
      'configured addresses replace the default',
    ],
    ['alice@example.com', 'wrong', undefined, 'a wrong password'],
    ['mallory@example.com', 'correct horse', undefined, 'an unknown user'],
    ['ALICE@example.com', 'correct horse', undefined, 'usernames are matched exactly'],
    ['', '', undefined, 'empty credentials'],
  ] as const)('%j / %j -> %j (%s)', async (username, password, user, _why) => {
    expect(await createAuthenticator(users())(username, password)).toEqual(user);
  });

  it.each([
    // username, password, why
    ['anyone@example.com', 'anything', 'any address and password'],
    ['alice@example.com', 'wrong', 'even a configured user with a wrong password'],
    ['x', '', 'a bare name and an empty password'],
  ])('acceptAnyCredentials accepts %j / %j (%s)', async (username, password, _why) => {
    const authenticate = createAuthenticator({ ...users(), acceptAnyCredentials: true });
    expect(await authenticate(username, password)).toEqual({ username, addresses: [username] });
  });
});

describe('scrypt runs one at a time (the libuv pool stays free for spool I/O)', () => {
  it('concurrent verifications queue: never more than one derivation at once, all answered', async () => {
    const hash = await hashPassword('right');
    scryptLimiter.peak = 0;
    const results = await Promise.all(
      ['right', 'wrong', 'right', 'wrong', 'right', 'wrong'].map((password) =>
        verifyPassword(password, hash),
      ),
    );
    expect(results).toEqual([true, false, true, false, true, false]);
    expect(scryptLimiter.peak).toBe(1);
    expect(scryptLimiter.queued).toBe(0);
  });
});
