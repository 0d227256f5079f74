import type { Selectable, Updateable } from 'kysely';
import { CoreError } from '../core/errors.ts';
import type { ApplicationStore } from '../core/ports.ts';
import type { Application, MethodType } from '../core/types.ts';
import { count, parseJson, type StoreContext } from './context.ts';
import { isUniqueViolation } from './errors.ts';
import type { ApplicationsTable } from './schema.ts';

function toApplication(row: Selectable<ApplicationsTable>): Application {
  return {
    id: row.id,
    name: row.name,
    requireUserMatch: Boolean(row.require_user_match),
    trustedIps: JSON.parse(row.trusted_ips) as string[],
    cacheSeconds: row.cache_seconds,
    allowedMethods: parseJson<MethodType[]>(row.allowed_methods),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function taken(name: string): CoreError {
  return new CoreError('application_exists', `application name "${name}" is already taken`);
}

/** Application names are unique regardless of case, like usernames. */
export function createApplicationStore({ db, dialect }: StoreContext): ApplicationStore {
  // better-sqlite3 binds no booleans: SQLite stores 0/1, PostgreSQL a boolean.
  const flag = (value: boolean): boolean | number => (dialect === 'sqlite' ? (value ? 1 : 0) : value);

  return {
    async create(app, id, now) {
      const row = await db
        .insertInto('applications')
        .values({
          id,
          name: app.name,
          name_lc: app.name.toLowerCase(),
          require_user_match: flag(app.requireUserMatch),
          trusted_ips: JSON.stringify(app.trustedIps),
          cache_seconds: app.cacheSeconds,
          allowed_methods: app.allowedMethods === null ? null : JSON.stringify(app.allowedMethods),
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.column('name_lc').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (row === undefined) throw taken(app.name);
      return toApplication(row);
    },

    async get(id) {
      const row = await db.selectFrom('applications').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toApplication(row);
    },

    async getByName(name) {
      const row = await db.selectFrom('applications').selectAll().where('name_lc', '=', name.toLowerCase()).executeTakeFirst();
      return row && toApplication(row);
    },

    async list() {
      const rows = await db.selectFrom('applications').selectAll().orderBy('name_lc').execute();
      return rows.map(toApplication);
    },

    async update(id, patch, now) {
      const set: Updateable<ApplicationsTable> = { updated_at: now };
      if (patch.name !== undefined) {
        set.name = patch.name;
        set.name_lc = patch.name.toLowerCase();
      }
      if (patch.requireUserMatch !== undefined) set.require_user_match = flag(patch.requireUserMatch);
      if (patch.trustedIps !== undefined) set.trusted_ips = JSON.stringify(patch.trustedIps);
      if (patch.cacheSeconds !== undefined) set.cache_seconds = patch.cacheSeconds;
      if (patch.allowedMethods !== undefined) set.allowed_methods = patch.allowedMethods === null ? null : JSON.stringify(patch.allowedMethods);
      let row;
      try {
        row = await db.updateTable('applications').set(set).where('id', '=', id).returningAll().executeTakeFirst();
      } catch (e) {
        if (patch.name !== undefined && isUniqueViolation(e, 'name_lc')) throw taken(patch.name);
        throw e;
      }
      if (row === undefined) throw new CoreError('application_not_found', `no application with id ${id}`);
      return toApplication(row);
    },

    async delete(id) {
      const result = await db.deleteFrom('applications').where('id', '=', id).executeTakeFirst();
      return count(result.numDeletedRows) > 0;
    },
  };
}
