import type { Kysely, Selectable } from 'kysely';
import { CoreError } from '../core/errors.ts';
import type { MethodStore } from '../core/ports.ts';
import type { MethodRecord, MethodType, OathConfig } from '../core/types.ts';
import { count, type StoreContext } from './context.ts';
import { isForeignKeyViolation } from './errors.ts';
import { Keyring } from './keyring.ts';
import { prepareQuery } from './prepared.ts';
import type { Database, MethodsTable } from './schema.ts';

const RESEAL_BATCH = 500;

/**
 * A user's methods. No ORDER BY: on SQLite an ORDER BY next to a bound parameter makes the
 * statement re-prepare on every call (about 25 µs); the caller sorts the few rows instead.
 */
export function methodsForUserQuery(db: Kysely<Database>, userId: string) {
  return db.selectFrom('methods').selectAll().where('user_id', '=', userId);
}

function byCreation(a: MethodRecord, b: MethodRecord): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The replay guard: one conditional UPDATE, so of any number of callers presenting the same step,
 * in any number of processes, exactly one sees a changed row. Built once (see prepared.ts).
 */
export function consumeStepQuery(db: Kysely<Database>) {
  return prepareQuery((a: { id: string; step: number; drift: number; now: number }) =>
    db
      .updateTable('methods')
      .set({ last_step: a.step, drift: a.drift, last_used_at: a.now })
      .where('id', '=', a.id)
      .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', a.step)])),
  );
}

/** The authentication hot path's queries, built once (see prepared.ts). */
function hotPathQueries(db: Kysely<Database>) {
  return {
    listForUser: prepareQuery((a: { userId: string }) => methodsForUserQuery(db, a.userId)),
    consumeStep: consumeStepQuery(db),
  };
}

export function createMethodStore({ db, dialect, keyring, writes, lane }: StoreContext): MethodStore {
  const hot = hotPathQueries(db);
  // The secret is sealed with the method id as associated data: a sealed value moved to another
  // row does not open.
  const toMethod = (row: Selectable<MethodsTable>): MethodRecord => ({
    id: row.id,
    userId: row.user_id,
    type: row.type as MethodType,
    label: row.label,
    secret: keyring.open(row.secret, row.id),
    config: JSON.parse(row.config) as OathConfig,
    lastStep: row.last_step,
    drift: row.drift,
    pending: row.pending === true || row.pending === 1,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  });

  return {
    async add(method, id, now) {
      try {
        const row = await db
          .insertInto('methods')
          .values({
            id,
            user_id: method.userId,
            type: method.type,
            label: method.label,
            secret: keyring.seal(method.secret, id),
            config: JSON.stringify(method.config),
            last_step: method.lastStep ?? null,
            drift: 0,
            pending: dialect === 'postgres' ? method.pending === true : method.pending === true ? 1 : 0,
            created_at: now,
            last_used_at: null,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toMethod(row);
      } catch (e) {
        if (isForeignKeyViolation(e)) throw new CoreError('user_not_found', `no user with id ${method.userId}`);
        throw e;
      }
    },

    async get(id) {
      const row = await db.selectFrom('methods').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toMethod(row);
    },

    async listForUser(userId) {
      const { rows } = await hot.listForUser.run(db, lane, { userId });
      return rows.map(toMethod).sort(byCreation);
    },

    async delete(id) {
      const result = await db.deleteFrom('methods').where('id', '=', id).executeTakeFirst();
      return count(result.numDeletedRows) > 0;
    },

    async deleteAllForUser(userId) {
      const result = await db.deleteFrom('methods').where('user_id', '=', userId).executeTakeFirst();
      return count(result.numDeletedRows);
    },

    async consumeStep(id, step, drift, now) {
      const result = await writes.runPrepared(hot.consumeStep, { id, step, drift, now });
      return count(result.numAffectedRows) === 1;
    },

    async swapStep(id, expected, next, now) {
      const result = await db
        .updateTable('methods')
        .set({ last_step: next, last_used_at: now })
        .where('id', '=', id)
        .where((eb) => (expected === null ? eb('last_step', 'is', null) : eb('last_step', '=', expected)))
        .executeTakeFirst();
      return count(result.numUpdatedRows) === 1;
    },

    async confirm(id, step, drift, now) {
      const [yes, no] = dialect === 'postgres' ? [true, false] : [1, 0];
      const result = await db
        .updateTable('methods')
        .set({ pending: no, last_step: step, drift, last_used_at: now })
        .where('id', '=', id)
        .where('pending', '=', yes)
        .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
        .executeTakeFirst();
      return count(result.numUpdatedRows) === 1;
    },

    async activate(id, secret, label, now) {
      const [yes, no] = dialect === 'postgres' ? [true, false] : [1, 0];
      const result = await db
        .updateTable('methods')
        .set({ pending: no, secret: keyring.seal(secret, id), label, last_used_at: now })
        .where('id', '=', id)
        .where('pending', '=', yes)
        .executeTakeFirst();
      return count(result.numUpdatedRows) === 1;
    },

    async replaceSecret(id, secret) {
      const result = await db.updateTable('methods').set({ secret: keyring.seal(secret, id) }).where('id', '=', id).executeTakeFirst();
      return count(result.numUpdatedRows) === 1;
    },

    async setStep(id, step, drift, now) {
      // A resync (step given) is a use of the token; an administrator's reset (null) is not.
      const set = step === null ? { last_step: null, drift } : { last_step: step, drift, last_used_at: now };
      const result = await db.updateTable('methods').set(set).where('id', '=', id).executeTakeFirst();
      if (count(result.numUpdatedRows) === 0) throw new CoreError('method_not_found', `no method with id ${id}`);
    },

    async resealAll() {
      // Batches in id order; each row is rewritten only if its sealed value is still the one read
      // (another node may be re-sealing too).
      let resealed = 0;
      let after = '';
      for (;;) {
        const rows = await db.selectFrom('methods').select(['id', 'secret']).where('id', '>', after).orderBy('id').limit(RESEAL_BATCH).execute();
        if (rows.length === 0) return resealed;
        for (const row of rows) {
          if (Keyring.kidOf(row.secret) === keyring.activeKid) continue;
          const secret = keyring.seal(keyring.open(row.secret, row.id), row.id);
          const result = await db.updateTable('methods').set({ secret }).where('id', '=', row.id).where('secret', '=', row.secret).executeTakeFirst();
          resealed += count(result.numUpdatedRows);
        }
        after = rows[rows.length - 1]!.id;
      }
    },
  };
}
