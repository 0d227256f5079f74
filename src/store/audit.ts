import { NoResultError } from 'kysely';
import type { InsertQueryNode, Kysely, Selectable } from 'kysely';
import { CoreError } from '../core/errors.ts';
import type { AuditStore } from '../core/ports.ts';
import type { AuditEvent, AuditKind, AuditQuery, NewAuditEvent } from '../core/types.ts';
import { count, parseJson, toJson, type StoreContext } from './context.ts';
import { prepareQuery } from './prepared.ts';
import type { AuditEventsTable, Database } from './schema.ts';

function toEvent(row: Selectable<AuditEventsTable>): AuditEvent {
  return {
    id: row.id,
    at: row.at,
    kind: row.kind as AuditKind,
    action: row.action,
    result: row.result,
    reason: row.reason,
    username: row.username,
    userId: row.user_id,
    displayName: row.display_name,
    email: row.email,
    phone: row.phone,
    device: row.device,
    method: row.method,
    mode: row.mode,
    application: row.application,
    serverName: row.server_name,
    clientIp: row.client_ip,
    actor: row.actor,
    authenticationId: row.authentication_id,
    details: parseJson<Record<string, unknown>>(row.details),
  };
}

type AppendArgs = NewAuditEvent & { readonly usernameLc: string | null; readonly detailsJson: string | null };

/** The arguments of appendQuery for an event. */
export function appendArgs(event: NewAuditEvent): AppendArgs {
  return { ...event, usernameLc: event.username === null ? null : event.username.toLowerCase(), detailsJson: toJson(event.details) };
}

/** The insert behind append, built once (see prepared.ts): every authentication appends one event. */
export function appendQuery(db: Kysely<Database>) {
  return prepareQuery((a: AppendArgs) =>
    db
      .insertInto('audit_events')
      .values({
        at: a.at,
        kind: a.kind,
        action: a.action,
        result: a.result,
        reason: a.reason,
        username: a.username,
        username_lc: a.usernameLc,
        user_id: a.userId,
        display_name: a.displayName,
        email: a.email,
        phone: a.phone,
        device: a.device,
        method: a.method,
        mode: a.mode,
        application: a.application,
        server_name: a.serverName,
        client_ip: a.clientIp,
        actor: a.actor,
        authentication_id: a.authenticationId,
        details: a.detailsJson,
      })
      .returning('id'),
  );
}

/** Appended, never changed; deleted only by age (retention). Ids grow with insertion; queries page by id. Username filters ignore case. */
export function createAuditStore({ db, writes }: StoreContext): AuditStore {
  const insert = appendQuery(db);
  return {
    async append(event) {
      const row = (await writes.runPrepared(insert, appendArgs(event))).rows[0];
      if (row === undefined) throw new NoResultError(insert.node as InsertQueryNode);
      return row.id;
    },

    async query(query: AuditQuery) {
      if (!Number.isSafeInteger(query.limit) || query.limit < 1) {
        throw new CoreError('validation_failed', 'limit must be a positive integer', { limit: 'must be a positive integer' });
      }
      // Newest first, unless tailing with `after` (then oldest first from that id).
      let q = db
        .selectFrom('audit_events')
        .selectAll()
        .orderBy('id', query.after === undefined ? 'desc' : 'asc')
        .limit(query.limit);
      if (query.username !== undefined) q = q.where('username_lc', '=', query.username.toLowerCase());
      if (query.application !== undefined) q = q.where('application', '=', query.application);
      if (query.result !== undefined) q = q.where('result', '=', query.result);
      if (query.kind !== undefined) q = q.where('kind', '=', query.kind);
      if (typeof query.action === 'string') q = q.where('action', '=', query.action);
      else if (query.action !== undefined) q = q.where('action', 'in', [...query.action]);
      if (query.from !== undefined) q = q.where('at', '>=', query.from);
      if (query.to !== undefined) q = q.where('at', '<', query.to);
      if (query.before !== undefined) q = q.where('id', '<', query.before);
      if (query.after !== undefined) q = q.where('id', '>', query.after);
      const rows = await q.execute();
      return rows.map(toEvent);
    },

    async prune(before, limit) {
      // The newest event always stays, so that ids keep growing (SQLite gives max(id) + 1).
      const result = await db
        .deleteFrom('audit_events')
        .where('id', 'in', (qb) =>
          qb
            .selectFrom('audit_events')
            .select('id')
            .where('at', '<', before)
            .where('id', '<', (sub) => sub.selectFrom('audit_events').select((eb) => eb.fn.max('id').as('newest')))
            .orderBy('id')
            .limit(limit),
        )
        .executeTakeFirst();
      return count(result.numDeletedRows);
    },
  };
}
