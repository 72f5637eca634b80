import type { Config } from '../config/schema.js';
import { verifyPassword } from './passwords.js';

export interface AuthenticatedUser {
  readonly username: string;
  /** Envelope senders this user may use under `authenticatedSenders: own`. */
  readonly addresses: readonly string[];
}

export type Authenticator = (username: string, password: string) => Promise<AuthenticatedUser | undefined>;

/** A dummy hash, so an unknown username costs as much time as a wrong password. */
const DUMMY_HASH =
  'scrypt$N=32768,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

export function createAuthenticator(auth: Config['auth']): Authenticator {
  const users = new Map(auth.users.map((user) => [user.username, user]));
  return async (username, password) => {
    if (auth.acceptAnyCredentials) return { username, addresses: [username] };
    const user = users.get(username);
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !ok) return undefined;
    return { username, addresses: user.addresses ?? (username.includes('@') ? [username] : []) };
  };
}
