/**
 * The first factor every front door uses when it checks "the user's password": a directory user's
 * password is checked by a bind to the directory they were imported from, a local user's against
 * their argon2id hash. Countersign's own view of the account comes first: a disabled, blocked or
 * locked user is refused before any bind, and a wrong directory password counts toward the same
 * lockout as a wrong passcode.
 *
 * Unknown users and local users go to the local provider, which does the same hashing work for
 * both, so the answer's timing does not tell whether a name exists.
 *
 * Front doors choose a provider by name from the registry: `user` (this router), `local`,
 * `directory:<name>` (an LDAP bind to one source, for users not imported), and `radius` once the
 * RADIUS door registers an upstream server. An unknown name fails at start-up, naming the choices.
 */
import { createAudit } from '../audit.ts';
import { createLockout } from '../auth/lockout.ts';
import type { Clock, FirstFactorFailure, FirstFactorProvider, FirstFactorResult, Store } from '../ports.ts';
import { mergeSettings } from '../settings.ts';

export interface BySourceDeps {
  readonly store: Store;
  readonly clock: Clock;
  /** Local argon2id passwords; also answers for unknown users. */
  readonly local: FirstFactorProvider;
  /** LDAP bind providers by directory source name. */
  readonly directories: ReadonlyMap<string, FirstFactorProvider>;
  readonly serverName?: string;
}

const fail = (reason: FirstFactorFailure): FirstFactorResult => ({ ok: false, reason });
const MAX_USERNAME_LENGTH = 256;

export function createBySourceFirstFactor(deps: BySourceDeps): FirstFactorProvider {
  const { store, clock } = deps;
  const lockout = createLockout(store, createAudit(store, deps.serverName ?? 'countersign'));
  return {
    async verify(username, password) {
      if (typeof password !== 'string' || password === '') return fail('empty_password');
      const user = typeof username === 'string' && username !== '' && username.length <= MAX_USERNAME_LENGTH ? await store.users.getByUsername(username) : undefined;
      if (!user || user.source.kind !== 'directory') return deps.local.verify(username, password);

      const provider = deps.directories.get(user.source.directory);
      // The source was removed from the configuration: nobody can check this password.
      if (!provider) return fail('directory_unavailable');
      if (user.status === 'disabled' || user.blockedAt !== null) return fail('account_disabled');
      const now = clock.now();
      const settings = mergeSettings(await store.settings.get());
      const released = await lockout.release(user, settings, now);
      if (released === 'locked') return fail('account_locked');

      const result = await provider.verify(user.username, password);
      if (!result.ok && result.reason === 'invalid_credentials') await lockout.countFailure(released, settings, clock.now());
      return result;
    },
  };
}

export class FirstFactorRegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FirstFactorRegistryError';
  }
}

/** First-factor providers by name, for front doors' configuration (`firstFactor: user`). */
export interface FirstFactorRegistry {
  /** Adds a provider (e.g. `radius` for an upstream RADIUS server). Names are unique. */
  register(name: string, provider: FirstFactorProvider): void;
  /** The provider with this name; throws FirstFactorRegistryError naming the known ones. */
  resolve(name: string): FirstFactorProvider;
  names(): string[];
}

export function createFirstFactorRegistry(initial: Readonly<Record<string, FirstFactorProvider>> = {}): FirstFactorRegistry {
  const providers = new Map<string, FirstFactorProvider>(Object.entries(initial));
  return {
    register(name, provider) {
      if (providers.has(name)) throw new FirstFactorRegistryError(`first factor "${name}" is registered already`);
      providers.set(name, provider);
    },
    resolve(name) {
      const p = providers.get(name);
      if (!p) throw new FirstFactorRegistryError(`unknown first factor "${name}" (available: ${[...providers.keys()].sort().join(', ')})`);
      return p;
    },
    names: () => [...providers.keys()].sort(),
  };
}
