/** Codes texted to verify a phone (PhoneCodeStore): one row per user and phone, keyed hash only. */
import type { PhoneCodeStore } from '../core/ports.ts';
import { count, type StoreContext } from './context.ts';

export function createPhoneCodeStore({ db }: StoreContext): PhoneCodeStore {
  return {
    async issue(code, sentBefore) {
      // Insert, or replace a code sent at or before `sentBefore`; a newer one is left alone and no
      // row comes back. The conflict target's row lock (PostgreSQL) or the write lock (SQLite)
      // makes concurrent callers see each other's rows.
      const row = await db
        .insertInto('phone_codes')
        .values({ user_id: code.userId, which: code.which, hash: code.hash, sent_at: code.sentAt, expires_at: code.expiresAt, attempts: 0 })
        .onConflict((oc) =>
          oc
            .columns(['user_id', 'which'])
            .doUpdateSet((eb) => ({ hash: eb.ref('excluded.hash'), sent_at: eb.ref('excluded.sent_at'), expires_at: eb.ref('excluded.expires_at'), attempts: 0 }))
            .where('phone_codes.sent_at', '<=', sentBefore),
        )
        .returning('user_id')
        .executeTakeFirst();
      return row !== undefined;
    },

    async attempt(userId, which, now, maxAttempts) {
      const row = await db
        .updateTable('phone_codes')
        .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
        .where('user_id', '=', userId)
        .where('which', '=', which)
        .where('expires_at', '>', now)
        .where('attempts', '<', maxAttempts)
        .returning('hash')
        .executeTakeFirst();
      return row?.hash;
    },

    async consume(userId, which, hash) {
      const result = await db.deleteFrom('phone_codes').where('user_id', '=', userId).where('which', '=', which).where('hash', '=', hash).executeTakeFirst();
      return count(result.numDeletedRows) > 0;
    },
  };
}
