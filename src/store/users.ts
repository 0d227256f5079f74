import { sql } from 'kysely';
import type { Expression, Insertable, Kysely, Selectable, SqlBool, UpdateObject } from 'kysely';
import { CoreError } from '../core/errors.ts';
import type { UserStore } from '../core/ports.ts';
import type { ConsoleRole, MethodType, NewUser, Page, Phone, ReplyAttribute, User, UserQuery, UserSource, UserStatus } from '../core/types.ts';
import { count, escapeLike, parseJson, toJson, type StoreContext } from './context.ts';
import { isUniqueViolation } from './errors.ts';
import { prepareQuery } from './prepared.ts';
import type { Database, UsersTable } from './schema.ts';

function lower(text: string | null | undefined): string | null {
  return text === null || text === undefined ? null : text.toLowerCase();
}

/** Most users have no reply attributes: one shared empty list, no parsing. */
const NO_REPLY_ATTRIBUTES: readonly ReplyAttribute[] = Object.freeze([]);

function toUser(row: Selectable<UsersTable>): User {
  const source: UserSource =
    row.source_kind === 'directory'
      ? { kind: 'directory', directory: row.source_directory ?? '', externalId: row.source_external_id ?? '' }
      : { kind: 'local' };
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    email: row.email,
    phone: parseJson<Phone>(row.phone),
    backupPhone: parseJson<Phone>(row.backup_phone),
    phoneVerifiedAt: row.phone_verified_at,
    backupPhoneVerifiedAt: row.backup_phone_verified_at,
    language: row.language,
    status: row.status as UserStatus,
    blockedAt: row.blocked_at,
    blockedReason: row.blocked_reason,
    lockedAt: row.locked_at,
    failedCount: row.failed_count,
    defaultMethod: row.default_method as MethodType | null,
    pinHash: row.pin_hash,
    passwordHash: row.password_hash,
    source,
    consoleRole: row.console_role as ConsoleRole | null,
    replyAttributes: row.reply_attributes === '[]' ? NO_REPLY_ATTRIBUTES : JSON.parse(row.reply_attributes) as ReplyAttribute[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function notFound(id: string): CoreError {
  return new CoreError('user_not_found', `no user with id ${id}`);
}

function taken(username: string): CoreError {
  return new CoreError('user_exists', `username "${username}" is already taken`);
}

/**
 * One page of users in username_lc order, one row more than asked to tell whether a next page
 * exists (no COUNT). Exported for the query-plan checks in test/store/scale.test.ts.
 */
export function userListQuery(db: Kysely<Database>, query: UserQuery) {
  if (!Number.isSafeInteger(query.limit) || query.limit < 1) {
    throw new CoreError('validation_failed', 'limit must be a positive integer', { limit: 'must be a positive integer' });
  }
  let q = db
    .selectFrom('users')
    .selectAll()
    .orderBy('username_lc')
    .limit(query.limit + 1);
  if (query.after !== undefined) q = q.where('username_lc', '>', query.after);
  if (query.search !== undefined && query.search !== '') {
    const pattern = `%${escapeLike(query.search.toLowerCase())}%`;
    const like = (column: 'username_lc' | 'display_name_lc' | 'email_lc'): Expression<SqlBool> => sql<SqlBool>`${sql.ref(column)} LIKE ${pattern} ESCAPE '\\'`;
    q = q.where((eb) => eb.or([like('username_lc'), like('display_name_lc'), like('email_lc')]));
  }
  // Effective state, in order of precedence: disabled > blocked > locked > enabled. Each
  // non-enabled state has a partial index (see the migrations).
  switch (query.status) {
    case undefined:
      break;
    case 'disabled':
      q = q.where('status', '=', 'disabled');
      break;
    case 'blocked':
      q = q.where('status', '<>', 'disabled').where('blocked_at', 'is not', null);
      break;
    case 'locked':
      q = q.where('status', '<>', 'disabled').where('blocked_at', 'is', null).where('locked_at', 'is not', null);
      break;
    case 'enabled':
      q = q.where('status', '<>', 'disabled').where('blocked_at', 'is', null).where('locked_at', 'is', null);
      break;
    default:
      throw new CoreError('validation_failed', `unknown status "${String(query.status)}"`, { status: 'must be disabled, blocked, locked or enabled' });
  }
  return q;
}

/** The authentication hot path's queries, built once (see prepared.ts). */
function hotPathQueries(db: Kysely<Database>) {
  // recordFailure: one statement; the row lock (PostgreSQL) or the write lock (SQLite) makes
  // concurrent increments add up, and SET expressions see the row as it was before this update.
  const recordFailure = (lock: (a: { threshold: number; now: number }) => Expression<number | null>) =>
    prepareQuery((a: { id: string; threshold: number; now: number }) =>
      db
        .updateTable('users')
        .set((eb) => ({ failed_count: eb('failed_count', '+', 1), locked_at: lock(a), updated_at: a.now }))
        .where('id', '=', a.id)
        .returning(['failed_count', 'locked_at']),
    );
  return {
    getByUsername: prepareQuery((a: { usernameLc: string }) => db.selectFrom('users').selectAll().where('username_lc', '=', a.usernameLc)),
    // Every portal, console and gateway session check reads its user by id.
    getById: prepareQuery((a: { id: string }) => db.selectFrom('users').selectAll().where('id', '=', a.id)),
    recordFailureAndLock: recordFailure(
      (a) => sql<number | null>`CASE WHEN locked_at IS NULL AND failed_count + 1 >= ${a.threshold} THEN ${a.now} ELSE locked_at END`,
    ),
    // Threshold 0: never locks.
    recordFailure: recordFailure(() => sql<number | null>`locked_at`),
    resetFailures: prepareQuery((a: { id: string; now: number }) =>
      db
        .updateTable('users')
        .set({ failed_count: 0, locked_at: null, updated_at: a.now })
        .where('id', '=', a.id)
        .where((eb) => eb.or([eb('failed_count', '<>', 0), eb('locked_at', 'is not', null)])),
    ),
  };
}

function newRow(user: NewUser, id: string, now: number): Insertable<UsersTable> {
  const source = user.source ?? { kind: 'local' };
  return {
    id,
    username: user.username,
    username_lc: user.username.toLowerCase(),
    display_name: user.displayName ?? null,
    display_name_lc: lower(user.displayName),
    email: user.email ?? null,
    email_lc: lower(user.email),
    phone: toJson(user.phone),
    backup_phone: toJson(user.backupPhone),
    phone_verified_at: null,
    backup_phone_verified_at: null,
    language: user.language ?? 'en',
    status: user.status ?? 'enabled',
    blocked_at: null,
    blocked_reason: null,
    locked_at: null,
    failed_count: 0,
    default_method: user.defaultMethod ?? null,
    pin_hash: user.pinHash ?? null,
    password_hash: user.passwordHash ?? null,
    source_kind: source.kind,
    source_directory: source.kind === 'directory' ? source.directory : null,
    source_external_id: source.kind === 'directory' ? source.externalId : null,
    console_role: user.consoleRole ?? null,
    created_at: now,
    updated_at: now,
  };
}

export function createUserStore({ db, writes, dialect, lane }: StoreContext): UserStore {
  const hot = hotPathQueries(db);
  /** The verification time when the phone column keeps its value, else null (both sides may be null). */
  const same = dialect === 'postgres' ? sql.raw('IS NOT DISTINCT FROM') : sql.raw('IS');
  const keepIfSame = (column: 'phone' | 'backup_phone', next: string | null, verified: 'phone_verified_at' | 'backup_phone_verified_at') =>
    sql<number | null>`CASE WHEN ${sql.ref(column)} ${same} ${next} THEN ${sql.ref(verified)} ELSE NULL END`;
  return {
    async create(user, id, now) {
      const row = await db
        .insertInto('users')
        .values(newRow(user, id, now))
        .onConflict((oc) => oc.column('username_lc').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (row === undefined) throw taken(user.username);
      return toUser(row);
    },

    async createMany(users, now) {
      const created = new Map<string, User>();
      await db.transaction().execute(async (tx) => {
        // 100 rows of 24 columns per statement: far below either database's parameter limit.
        for (let i = 0; i < users.length; i += 100) {
          const rows = await tx
            .insertInto('users')
            .values(users.slice(i, i + 100).map((u) => newRow(u.user, u.id, now)))
            .onConflict((oc) => oc.doNothing())
            .returningAll()
            .execute();
          for (const row of rows) created.set(row.id, toUser(row));
        }
      });
      return users.map((u) => created.get(u.id) ?? taken(u.user.username));
    },

    async getByUsername(username) {
      const row = (await hot.getByUsername.run(db, lane, { usernameLc: username.toLowerCase() })).rows[0];
      return row && toUser(row);
    },

    async getById(id) {
      const row = (await hot.getById.run(db, lane, { id })).rows[0];
      return row && toUser(row);
    },

    async getManyBySource(directory, externalIds) {
      if (externalIds.length > 1000) throw new RangeError('at most 1000 ids per lookup');
      if (externalIds.length === 0) return [];
      const rows = await db
        .selectFrom('users')
        .selectAll()
        .where('source_kind', '=', 'directory')
        .where('source_directory', '=', directory)
        .where('source_external_id', 'in', externalIds)
        .execute();
      return rows.map(toUser);
    },

    async getBySource(directory, externalId) {
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('source_kind', '=', 'directory')
        .where('source_directory', '=', directory)
        .where('source_external_id', '=', externalId)
        .orderBy('created_at')
        .executeTakeFirst();
      return row && toUser(row);
    },

    async list(query: UserQuery): Promise<Page<User>> {
      const rows = await userListQuery(db, query).execute();
      const more = rows.length > query.limit;
      const items = (more ? rows.slice(0, query.limit) : rows).map(toUser);
      return { items, next: more ? (rows[query.limit - 1]?.username_lc ?? null) : null };
    },

    async count() {
      const row = await db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async update(id, patch, now) {
      const set: UpdateObject<Database, 'users'> = { updated_at: now };
      if (patch.username !== undefined) {
        set.username = patch.username;
        set.username_lc = patch.username.toLowerCase();
      }
      if (patch.displayName !== undefined) {
        set.display_name = patch.displayName;
        set.display_name_lc = lower(patch.displayName);
      }
      if (patch.email !== undefined) {
        set.email = patch.email;
        set.email_lc = lower(patch.email);
      }
      // A changed phone loses its verification, in the same statement (whoever changes it: the
      // portal, the API, an import or the directory synchronization).
      if (patch.phone !== undefined) {
        set.phone = toJson(patch.phone);
        set.phone_verified_at = keepIfSame('phone', toJson(patch.phone), 'phone_verified_at');
      }
      if (patch.backupPhone !== undefined) {
        set.backup_phone = toJson(patch.backupPhone);
        set.backup_phone_verified_at = keepIfSame('backup_phone', toJson(patch.backupPhone), 'backup_phone_verified_at');
      }
      if (patch.language !== undefined) set.language = patch.language;
      if (patch.status !== undefined) set.status = patch.status;
      if (patch.defaultMethod !== undefined) set.default_method = patch.defaultMethod;
      if (patch.pinHash !== undefined) set.pin_hash = patch.pinHash;
      if (patch.passwordHash !== undefined) set.password_hash = patch.passwordHash;
      if (patch.consoleRole !== undefined) set.console_role = patch.consoleRole;
      if (patch.replyAttributes !== undefined) set.reply_attributes = JSON.stringify(patch.replyAttributes.map((a) => ({ name: a.name, value: a.value })));
      let row;
      try {
        row = await db.updateTable('users').set(set).where('id', '=', id).returningAll().executeTakeFirst();
      } catch (e) {
        if (patch.username !== undefined && isUniqueViolation(e, 'username_lc')) throw taken(patch.username);
        throw e;
      }
      if (row === undefined) throw notFound(id);
      return toUser(row);
    },

    async setPhoneVerified(id, which, phone, at) {
      const column = which === 'phone' ? 'phone' : 'backup_phone';
      const result = await db
        .updateTable('users')
        .set(which === 'phone' ? { phone_verified_at: at } : { backup_phone_verified_at: at })
        .where('id', '=', id)
        .where(column, '=', toJson(phone))
        .executeTakeFirst();
      return count(result.numUpdatedRows) > 0;
    },

    async delete(id) {
      // Methods, bypasses and authentications go with the user (ON DELETE CASCADE).
      const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return count(result.numDeletedRows) > 0;
    },

    async setBlocked(id, blocked, now) {
      const row = await db
        .updateTable('users')
        .set({ blocked_at: blocked?.at ?? null, blocked_reason: blocked?.reason ?? null, updated_at: now })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      if (row === undefined) throw notFound(id);
      return toUser(row);
    },

    async recordFailure(id, threshold, now) {
      if (!Number.isSafeInteger(threshold) || threshold < 0) {
        throw new CoreError('validation_failed', 'lockout threshold must be a non-negative integer', { threshold: 'must be a non-negative integer' });
      }
      const query = threshold > 0 ? hot.recordFailureAndLock : hot.recordFailure;
      const row = (await writes.runPrepared(query, { id, threshold, now })).rows[0];
      if (row === undefined) throw notFound(id);
      return { failedCount: row.failed_count, lockedAt: row.locked_at };
    },

    async resetFailures(id, now) {
      await writes.runPrepared(hot.resetFailures, { id, now });
    },
  };
}
