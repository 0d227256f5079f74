import type { Selectable } from 'kysely';
import { CoreError } from '../core/errors.ts';
import type { AuditStore } from '../core/ports.ts';
import type { AuditEvent, AuditKind, AuditQuery } from '../core/types.ts';
import { parseJson, toJson, type StoreContext } from './context.ts';
import type { AuditEventsTable } from './schema.ts';

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

/** Append-only. Ids grow with insertion; queries page by id. Username filters ignore case. */
export function createAuditStore({ db, writes }: StoreContext): AuditStore {
  return {
    async append(event) {
      const row = await writes.run((w) =>
        w
          .insertInto('audit_events')
          .values({
            at: event.at,
            kind: event.kind,
            action: event.action,
            result: event.result,
            reason: event.reason,
            username: event.username,
            username_lc: event.username === null ? null : event.username.toLowerCase(),
            user_id: event.userId,
            display_name: event.displayName,
            email: event.email,
            phone: event.phone,
            device: event.device,
            method: event.method,
            mode: event.mode,
            application: event.application,
            server_name: event.serverName,
            client_ip: event.clientIp,
            actor: event.actor,
            authentication_id: event.authenticationId,
            details: toJson(event.details),
          })
          .returning('id')
          .executeTakeFirstOrThrow(),
      );
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
      if (query.action !== undefined) q = q.where('action', '=', query.action);
      if (query.from !== undefined) q = q.where('at', '>=', query.from);
      if (query.to !== undefined) q = q.where('at', '<', query.to);
      if (query.before !== undefined) q = q.where('id', '<', query.before);
      if (query.after !== undefined) q = q.where('id', '>', query.after);
      const rows = await q.execute();
      return rows.map(toEvent);
    },
  };
}
