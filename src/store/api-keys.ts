import type { Selectable } from 'kysely';
import { CoreError } from '../core/errors.ts';
import type { ApiKeyStore } from '../core/ports.ts';
import type { ApiKey, Role } from '../core/types.ts';
import { count, type StoreContext } from './context.ts';
import { isUniqueViolation } from './errors.ts';
import type { ApiKeysTable } from './schema.ts';

function toApiKey(row: Selectable<ApiKeysTable>): ApiKey {
  return {
    id: row.id,
    lookupId: row.lookup_id,
    hash: row.hash,
    name: row.name,
    role: row.role as Role,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

/** Only the keyed hash of an API key's secret part is stored. */
export function createApiKeyStore({ db }: StoreContext): ApiKeyStore {
  return {
    async create(key) {
      try {
        const row = await db
          .insertInto('api_keys')
          .values({
            id: key.id,
            lookup_id: key.lookupId,
            hash: key.hash,
            name: key.name,
            role: key.role,
            created_at: key.createdAt,
            last_used_at: key.lastUsedAt,
            revoked_at: key.revokedAt,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toApiKey(row);
      } catch (e) {
        if (isUniqueViolation(e, 'lookup_id')) throw new CoreError('conflict', 'an API key with this lookup id already exists');
        throw e;
      }
    },

    async getByLookupId(lookupId) {
      const row = await db.selectFrom('api_keys').selectAll().where('lookup_id', '=', lookupId).executeTakeFirst();
      return row && toApiKey(row);
    },

    async list() {
      const rows = await db.selectFrom('api_keys').selectAll().orderBy('created_at').orderBy('id').execute();
      return rows.map(toApiKey);
    },

    async revoke(id, now) {
      const result = await db.updateTable('api_keys').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
      return count(result.numUpdatedRows) === 1;
    },

    async touch(id, now) {
      await db.updateTable('api_keys').set({ last_used_at: now }).where('id', '=', id).execute();
    },
  };
}
