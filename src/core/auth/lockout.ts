/**
 * Lockout, shared by every check that can fail (passcodes, local passwords): consecutive failures
 * lock the account at the company threshold; a lock ends by administrator or, when configured,
 * after the lockout period. Both transitions are audited.
 */
import type { Actor } from '../api.ts';
import type { Audit } from '../audit.ts';
import type { Store } from '../ports.ts';
import type { Settings, User } from '../types.ts';

export const SYSTEM: Actor = { kind: 'system', name: 'system', role: 'admin' };

export function createLockout(store: Store, audit: Audit) {
  return {
    /**
     * For a locked user: unlocks (and audits) once the lockout period has passed and returns the
     * unlocked user; returns 'locked' while the lock holds. Users who are not locked pass as they are.
     */
    async release(user: User, settings: Settings, now: number): Promise<User | 'locked'> {
      if (user.lockedAt === null) return user;
      const auto = settings.lockout.autoUnlockSeconds;
      if (!(auto > 0 && now >= user.lockedAt + auto * 1000)) return 'locked';
      await store.users.resetFailures(user.id, now);
      await audit.admin({ action: 'user.unlock', user, actor: SYSTEM, reason: 'automatic unlock after the lockout period', now });
      return { ...user, lockedAt: null, failedCount: 0 };
    },

    /** Counts one failure (atomically, across processes) and audits the lock this failure caused. */
    async countFailure(user: User, settings: Settings, now: number): Promise<void> {
      const counted = await store.users.recordFailure(user.id, settings.lockout.threshold, now);
      if (counted.lockedAt !== null && counted.lockedAt === now && user.lockedAt === null) {
        await audit.admin({ action: 'user.lock', user, actor: SYSTEM, reason: `${counted.failedCount} consecutive failed authentications`, now });
      }
    },
  };
}

export type Lockout = ReturnType<typeof createLockout>;
