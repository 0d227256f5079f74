/**
 * Local password first factor: the user's argon2id password hash in the store.
 *
 * Every call that gets past the empty-password check runs exactly one argon2 verify: against the
 * user's hash when the user may sign in with a local password, otherwise against a dummy hash
 * made by the same hasher (same parameters, so the same cost). Whether a user exists, has a
 * password or comes from a directory does not show in the time taken.
 *
 * Wrong passwords count toward the same lockout as wrong passcodes (store.users.recordFailure with
 * the company threshold). A correct password never resets the count: only a completed second
 * factor or an administrator does, so knowing the password does not buy more passcode guesses.
 */
import { createAudit } from '../audit.ts';
import { createLockout } from '../auth/lockout.ts';
import type { Clock, FirstFactorFailure, FirstFactorProvider, FirstFactorResult, PasswordHasher, Store } from '../ports.ts';
import { mergeSettings } from '../settings.ts';
import type { User } from '../types.ts';
import { PASSWORD_MAX_LENGTH } from '../validation.ts';

export interface LocalPasswordDeps {
  readonly store: Store;
  readonly passwords: PasswordHasher;
  readonly clock: Clock;
  /** Recorded on the lock and automatic unlock audit events. */
  readonly serverName?: string;
}

/** Longest username looked up; longer ones are unknown without a query. */
const MAX_USERNAME_LENGTH = 256;
/** Hashed once per provider to make the dummy hash; never a valid password (too short for the policy). */
const DUMMY_PASSWORD = 'countersign-dummy';

const fail = (reason: FirstFactorFailure): FirstFactorResult => ({ ok: false, reason });

export function createLocalPasswordFirstFactor(deps: LocalPasswordDeps): FirstFactorProvider {
  const { store, passwords, clock } = deps;
  const lockout = createLockout(store, createAudit(store, deps.serverName ?? 'countersign'));
  let dummy: Promise<string> | undefined;
  const dummyHash = (): Promise<string> => {
    dummy ??= passwords.hash(DUMMY_PASSWORD).catch((err: unknown) => {
      dummy = undefined;
      throw err;
    });
    return dummy;
  };

  async function lookUp(username: string): Promise<User | undefined> {
    if (username === '' || username.length > MAX_USERNAME_LENGTH) return undefined;
    const user = await store.users.getByUsername(username);
    // Directory users sign in with their directory password, never a local one.
    if (!user || user.source.kind !== 'local' || user.passwordHash === null) return undefined;
    return user;
  }

  return {
    async verify(username: string, password: string): Promise<FirstFactorResult> {
      // 1. Nothing to check: refuse without hashing.
      if (typeof password !== 'string' || password === '') return fail('empty_password');

      // 2. One argon2 verify, whoever the user is.
      const user = typeof username === 'string' ? await lookUp(username) : undefined;
      const tooLong = [...password].length > PASSWORD_MAX_LENGTH;
      const hash = user && !tooLong ? (user.passwordHash as string) : await dummyHash();
      const matches = await passwords.verify(hash, password);
      if (!user) return fail('unknown_user');

      // 3. Administrative state: disabled and blocked users are refused whatever the password.
      if (user.status === 'disabled' || user.blockedAt !== null) return fail('account_disabled');
      const now = clock.now();
      const settings = mergeSettings(await store.settings.get());
      const released = await lockout.release(user, settings, now);
      if (released === 'locked') return fail('account_locked');

      // 4. The password itself. Over-long passwords were checked against the dummy: never a match.
      if (matches && !tooLong) return { ok: true, dn: user.username };
      await lockout.countFailure(released, settings, now);
      return fail('invalid_credentials');
    },
  };
}
