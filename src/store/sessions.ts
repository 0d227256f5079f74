/** Portal and console sign-in sessions (see SessionStore in the core's ports). */
import type { Selectable } from 'kysely';
import type { SessionRecord, SessionStage, SessionStore } from '../core/ports.ts';
import { count, type StoreContext } from './context.ts';
import { prepareQuery } from './prepared.ts';
import type { SessionsTable } from './schema.ts';

function toSession(row: Selectable<SessionsTable>): SessionRecord {
  return {
    idHash: row.id_hash,
    kind: row.kind as SessionRecord['kind'],
    userId: row.user_id,
    stage: row.stage as SessionStage,
    csrf: row.csrf,
    data: JSON.parse(row.data) as Record<string, unknown>,
    clientIp: row.client_ip,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
  };
}

function toRow(s: SessionRecord): Selectable<SessionsTable> {
  return {
    id_hash: s.idHash,
    kind: s.kind,
    user_id: s.userId,
    stage: s.stage,
    csrf: s.csrf,
    data: JSON.stringify(s.data),
    client_ip: s.clientIp,
    created_at: s.createdAt,
    last_seen_at: s.lastSeenAt,
    expires_at: s.expiresAt,
  };
}

export function createSessionStore({ db }: StoreContext): SessionStore {
  // Every request of a signed-in page, and every gateway decision, reads its session: built once (see prepared.ts).
  const byId = prepareQuery((a: { idHash: string }) => db.selectFrom('sessions').selectAll().where('id_hash', '=', a.idHash));
  return {
    async create(session) {
      await db.insertInto('sessions').values(toRow(session)).execute();
    },
    async get(idHash) {
      const row = (await byId.execute(db, { idHash })).rows[0];
      return row && toSession(row);
    },
    async update(idHash, fields) {
      const set: Partial<Selectable<SessionsTable>> = {};
      if (fields.stage !== undefined) set.stage = fields.stage;
      if (fields.data !== undefined) set.data = JSON.stringify(fields.data);
      if (fields.lastSeenAt !== undefined) set.last_seen_at = fields.lastSeenAt;
      if (Object.keys(set).length === 0) return (await db.selectFrom('sessions').select('id_hash').where('id_hash', '=', idHash).executeTakeFirst()) !== undefined;
      const result = await db.updateTable('sessions').set(set).where('id_hash', '=', idHash).executeTakeFirst();
      return count(result.numUpdatedRows) === 1;
    },
    async rename(oldIdHash, next) {
      // One statement decides the race: the first update moves the row to its new id, so every
      // other caller's WHERE finds nothing. (No transaction held across awaits: on SQLite, two
      // stores of one process would wait on each other's write lock.)
      const result = await db.updateTable('sessions').set(toRow(next)).where('id_hash', '=', oldIdHash).executeTakeFirst();
      return count(result.numUpdatedRows) === 1;
    },
    async delete(idHash) {
      const result = await db.deleteFrom('sessions').where('id_hash', '=', idHash).executeTakeFirst();
      return count(result.numDeletedRows) === 1;
    },
    async deleteForUser(userId, kind) {
      let q = db.deleteFrom('sessions').where('user_id', '=', userId);
      if (kind !== undefined) q = q.where('kind', '=', kind);
      return count((await q.executeTakeFirst()).numDeletedRows);
    },
    async prune(now, idleBefore) {
      const result = await db
        .deleteFrom('sessions')
        .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<', idleBefore)]))
        .executeTakeFirst();
      return count(result.numDeletedRows);
    },
  };
}
