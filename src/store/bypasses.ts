import type { Kysely, Selectable } from 'kysely';
import { CoreError } from '../core/errors.ts';
import type { BypassStore } from '../core/ports.ts';
import type { Bypass } from '../core/types.ts';
import { count, type StoreContext } from './context.ts';
import { isForeignKeyViolation } from './errors.ts';
import { prepareQuery } from './prepared.ts';
import type { BypassesTable, Database } from './schema.ts';

function toBypass(row: Selectable<BypassesTable>): Bypass {
  return {
    id: row.id,
    userId: row.user_id,
    reason: row.reason,
    createdBy: row.created_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
  };
}

/** The authentication hot path's query, built once (see prepared.ts): most users have no bypass. */
function activeQuery(db: Kysely<Database>) {
  return prepareQuery((a: { userId: string; now: number }) =>
    db.selectFrom('bypasses').selectAll().where('user_id', '=', a.userId).where('used_at', 'is', null).where('expires_at', '>', a.now),
  );
}

/**
 * A user has at most one unused bypass (a partial unique index). Issuing a new one overwrites it,
 * cancelling deletes it; used bypasses stay as history. A bypass is active while now < expiresAt.
 */
export function createBypassStore({ db, writes, lane }: StoreContext): BypassStore {
  const active = activeQuery(db);
  return {
    async issue(bypass) {
      const values = {
        id: bypass.id,
        user_id: bypass.userId,
        reason: bypass.reason,
        created_by: bypass.createdBy,
        created_at: bypass.createdAt,
        expires_at: bypass.expiresAt,
        used_at: null,
      };
      try {
        const row = await db
          .insertInto('bypasses')
          .values(values)
          .onConflict((oc) =>
            oc.column('user_id').where('used_at', 'is', null).doUpdateSet({
              id: values.id,
              reason: values.reason,
              created_by: values.created_by,
              created_at: values.created_at,
              expires_at: values.expires_at,
            }),
          )
          .returningAll()
          .executeTakeFirstOrThrow();
        return toBypass(row);
      } catch (e) {
        if (isForeignKeyViolation(e)) throw new CoreError('user_not_found', `no user with id ${bypass.userId}`);
        throw e;
      }
    },

    async active(userId, now) {
      const row = (await active.run(db, lane, { userId, now })).rows[0];
      return row && toBypass(row);
    },

    async consume(userId, now) {
      // At most one row can match (the partial unique index); the conditional UPDATE lets exactly
      // one concurrent caller mark it used.
      const result = await writes.run((w) =>
        w
          .updateTable('bypasses')
          .set({ used_at: now })
          .where('user_id', '=', userId)
          .where('used_at', 'is', null)
          .where('expires_at', '>', now)
          .executeTakeFirst(),
      );
      return count(result.numUpdatedRows) === 1;
    },

    async cancel(userId) {
      const result = await db.deleteFrom('bypasses').where('user_id', '=', userId).where('used_at', 'is', null).executeTakeFirst();
      return count(result.numDeletedRows) > 0;
    },

    async history(userId, limit) {
      const rows = await db
        .selectFrom('bypasses')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(Math.max(0, Math.floor(limit)))
        .execute();
      return rows.map(toBypass);
    },
  };
}
