import { sql, type Kysely, type Selectable, type Updateable } from 'kysely';
import { CoreError } from '../core/errors.ts';
import type { AuthenticationStore } from '../core/ports.ts';
import type { Authentication, AuthReason, AuthState, MethodType } from '../core/types.ts';
import { count, type StoreContext } from './context.ts';
import { isForeignKeyViolation } from './errors.ts';
import { appendArgs, appendQuery } from './audit.ts';
import { consumeStepQuery } from './methods.ts';
import { prepareQuery } from './prepared.ts';
import type { PreparedChain } from './write-batch.ts';
import type { AuthenticationsTable, Database } from './schema.ts';

const FINISHED: AuthState[] = ['approved', 'denied', 'expired'];
const OPEN: AuthState[] = ['challenge', 'pending'];

function toAuthentication(row: Selectable<AuthenticationsTable>): Authentication {
  return {
    id: row.id,
    userId: row.user_id,
    username: row.username,
    applicationId: row.application_id,
    applicationName: row.application_name,
    clientIp: row.client_ip,
    state: row.state as AuthState,
    reason: row.reason as AuthReason,
    methodId: row.method_id,
    methodType: row.method_type as MethodType | null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
    challengeHash: row.challenge_hash,
  };
}

/** The authentication hot path's insert, built once (see prepared.ts). */
function createQuery(db: Kysely<Database>) {
  return prepareQuery((auth: Authentication) =>
    db.insertInto('authentications').values({
      id: auth.id,
      user_id: auth.userId,
      username: auth.username,
      application_id: auth.applicationId,
      application_name: auth.applicationName,
      client_ip: auth.clientIp,
      state: auth.state,
      reason: auth.reason,
      method_id: auth.methodId,
      method_type: auth.methodType,
      created_at: auth.createdAt,
      updated_at: auth.updatedAt,
      expires_at: auth.expiresAt,
      challenge_hash: auth.challengeHash ?? null,
    }),
  );
}

export function createAuthenticationStore({ db, writes }: StoreContext): AuthenticationStore {
  const insert = createQuery(db);
  const consume = consumeStepQuery(db);
  const appendEvent = appendQuery(db);
  return {
    async createIfConsumed(step, auth, event) {
      const chain: PreparedChain = {
        query: consume as PreparedChain['query'],
        args: { id: step.methodId, step: step.step, drift: step.drift, now: step.now },
        next: (result) =>
          count(result.numAffectedRows) === 1
            ? [
                { query: insert as PreparedChain['query'], args: auth },
                { query: appendEvent as PreparedChain['query'], args: appendArgs(event) },
              ]
            : [],
      };
      return count((await writes.runChain(chain)).numAffectedRows) === 1;
    },

    async create(auth) {
      try {
        await writes.runPrepared(insert, auth);
      } catch (e) {
        if (isForeignKeyViolation(e)) throw new CoreError('user_not_found', `no user with id ${auth.userId}`);
        throw e;
      }
    },

    async get(id) {
      const row = await db.selectFrom('authentications').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toAuthentication(row);
    },

    async transition(id, from, to, reason, fields, now) {
      // Compare-and-set in one statement: only the caller whose UPDATE still finds `from` wins.
      const set: Updateable<AuthenticationsTable> = { state: to, reason, updated_at: now };
      if (fields.methodId !== undefined) set.method_id = fields.methodId;
      if (fields.methodType !== undefined) set.method_type = fields.methodType;
      const result = await db.updateTable('authentications').set(set).where('id', '=', id).where('state', '=', from).executeTakeFirst();
      return count(result.numUpdatedRows) === 1;
    },

    async pendingForMethod(methodId, now) {
      const rows = await db
        .selectFrom('authentications')
        .selectAll()
        .where('method_id', '=', methodId)
        // A literal, not a parameter: the partial index authentications_pending_method applies.
        .where(sql<boolean>`state = 'pending'`)
        .where('expires_at', '>', now)
        .orderBy('created_at')
        .limit(20)
        .execute();
      return rows.map(toAuthentication);
    },

    async lastApproval(userId, applicationId, clientIp, since) {
      const row = await db
        .selectFrom('authentications')
        .selectAll()
        .where('user_id', '=', userId)
        .where('application_id', '=', applicationId)
        .where('client_ip', '=', clientIp)
        .where('state', '=', 'approved')
        .where('reason', 'in', ['passcode_ok', 'out_of_band_ok'])
        .where('created_at', '>=', since)
        .orderBy('created_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row && toAuthentication(row);
    },

    async prune(before, limit) {
      // Finished ones created before `before`, and open ones that had already expired by then; the
      // oldest `limit` of them, so that each statement holds the write lock briefly.
      const result = await db
        .deleteFrom('authentications')
        .where('id', 'in', (qb) =>
          qb
            .selectFrom('authentications')
            .select('id')
            .where('created_at', '<', before)
            .where((eb) => eb.or([eb('state', 'in', FINISHED), eb.and([eb('state', 'in', OPEN), eb('expires_at', '<', before)])]))
            .orderBy('created_at')
            .limit(limit),
        )
        .executeTakeFirst();
      return count(result.numDeletedRows);
    },
  };
}
