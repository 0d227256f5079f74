/**
 * Directory synchronization state: the digest of every synchronized entry (so an unchanged entry
 * costs a read, never a write), the incremental cursor per directory, and the run history with
 * the changes held for an administrator's approval.
 */
import type { DirectoryEntryRecord, DirectoryMember, DirectorySyncStore, LeaseStore, SyncRun, SyncRunStatus } from '../core/ports.ts';
import type { StoreContext } from './context.ts';
import type { DirectorySyncRunsTable } from './schema.ts';

/** Bound parameters per statement stay well below SQLite's limit (32766) and PostgreSQL's (65535). */
const MAX_IDS = 1000;

function toRun(row: DirectorySyncRunsTable): SyncRun {
  return {
    id: row.id,
    directory: row.directory,
    mode: row.mode as SyncRun['mode'],
    trigger: row.trigger as SyncRun['trigger'],
    status: row.status as SyncRunStatus,
    node: row.node,
    startedAt: Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    counts: JSON.parse(row.counts) as SyncRun['counts'],
    errors: JSON.parse(row.errors) as SyncRun['errors'],
    pending: JSON.parse(row.pending) as SyncRun['pending'],
    failure: row.failure,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at === null ? null : Number(row.decided_at),
  };
}

function fromRun(run: SyncRun): DirectorySyncRunsTable {
  return {
    id: run.id,
    directory: run.directory,
    mode: run.mode,
    trigger: run.trigger,
    status: run.status,
    node: run.node,
    started_at: run.startedAt,
    finished_at: run.finishedAt,
    counts: JSON.stringify(run.counts),
    errors: JSON.stringify(run.errors),
    pending: JSON.stringify(run.pending),
    failure: run.failure,
    decided_by: run.decidedBy,
    decided_at: run.decidedAt,
  };
}

export function createDirectorySyncStore({ db, dialect }: StoreContext): DirectorySyncStore {
  const flag = (b: boolean): boolean | number => (dialect === 'sqlite' ? (b ? 1 : 0) : b);
  return {
    async entries(directory, externalIds) {
      if (externalIds.length > MAX_IDS) throw new RangeError(`at most ${MAX_IDS} entries per lookup`);
      const found = new Map<string, DirectoryEntryRecord>();
      if (externalIds.length === 0) return found;
      const rows = await db
        .selectFrom('directory_entries')
        .select(['external_id', 'user_id', 'digest', 'disabled_by_sync'])
        .where('directory', '=', directory)
        .where('external_id', 'in', externalIds)
        .execute();
      for (const r of rows) found.set(r.external_id, { externalId: r.external_id, userId: r.user_id, digest: r.digest, disabledBySync: Boolean(r.disabled_by_sync) });
      return found;
    },

    async putEntries(directory, records) {
      if (records.length === 0) return;
      await db.transaction().execute(async (tx) => {
        for (let i = 0; i < records.length; i += 200) {
          const chunk = records.slice(i, i + 200).map((r) => ({
            directory,
            external_id: r.externalId,
            user_id: r.userId,
            digest: r.digest,
            disabled_by_sync: flag(r.disabledBySync),
          }));
          await tx
            .insertInto('directory_entries')
            .values(chunk)
            .onConflict((oc) =>
              oc.columns(['directory', 'external_id']).doUpdateSet({
                user_id: (eb) => eb.ref('excluded.user_id'),
                digest: (eb) => eb.ref('excluded.digest'),
                disabled_by_sync: (eb) => eb.ref('excluded.disabled_by_sync'),
              }),
            )
            .execute();
        }
      });
    },

    async deleteEntries(directory, externalIds) {
      for (let i = 0; i < externalIds.length; i += MAX_IDS) {
        await db
          .deleteFrom('directory_entries')
          .where('directory', '=', directory)
          .where('external_id', 'in', externalIds.slice(i, i + MAX_IDS))
          .execute();
      }
    },

    async members(directory, afterId, limit): Promise<DirectoryMember[]> {
      let q = db
        .selectFrom('users')
        .select(['id', 'username', 'source_external_id', 'status'])
        .where('source_directory', '=', directory)
        .orderBy('id')
        .limit(limit);
      if (afterId !== null) q = q.where('id', '>', afterId);
      const rows = await q.execute();
      return rows.map((r) => ({ id: r.id, username: r.username, externalId: r.source_external_id ?? '', status: r.status as DirectoryMember['status'] }));
    },

    async getState(directory) {
      const row = await db.selectFrom('directory_sync_state').selectAll().where('directory', '=', directory).executeTakeFirst();
      if (!row) return undefined;
      return {
        directory: row.directory,
        cursor: row.cursor === null ? null : (JSON.parse(row.cursor) as never),
        lastFullAt: row.last_full_at === null ? null : Number(row.last_full_at),
        lastRunAt: row.last_run_at === null ? null : Number(row.last_run_at),
      };
    },

    async putState(state) {
      const values = {
        directory: state.directory,
        cursor: state.cursor === null ? null : JSON.stringify(state.cursor),
        last_full_at: state.lastFullAt,
        last_run_at: state.lastRunAt,
      };
      await db
        .insertInto('directory_sync_state')
        .values(values)
        .onConflict((oc) => oc.column('directory').doUpdateSet({ cursor: values.cursor, last_full_at: values.last_full_at, last_run_at: values.last_run_at }))
        .execute();
    },

    async createRun(run) {
      await db.insertInto('directory_sync_runs').values(fromRun(run)).execute();
    },

    async saveRun(run) {
      const { id: _id, directory: _d, started_at: _s, ...set } = fromRun(run);
      await db.updateTable('directory_sync_runs').set(set).where('id', '=', run.id).execute();
    },

    async transitionRun(id, from, to, fields) {
      const result = await db
        .updateTable('directory_sync_runs')
        .set({
          status: to,
          ...(fields.decidedBy !== undefined ? { decided_by: fields.decidedBy } : {}),
          ...(fields.decidedAt !== undefined ? { decided_at: fields.decidedAt } : {}),
          ...(fields.finishedAt !== undefined ? { finished_at: fields.finishedAt } : {}),
        })
        .where('id', '=', id)
        .where('status', '=', from)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async getRun(id) {
      const row = await db.selectFrom('directory_sync_runs').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toRun(row) : undefined;
    },

    async listRuns({ directory, status, limit }) {
      let q = db.selectFrom('directory_sync_runs').selectAll().orderBy('started_at', 'desc').orderBy('id', 'desc').limit(limit);
      if (directory !== undefined) q = q.where('directory', '=', directory);
      if (status !== undefined) q = q.where('status', '=', status);
      return (await q.execute()).map(toRun);
    },
  };
}

export function createLeaseStore({ db }: StoreContext): LeaseStore {
  return {
    async acquire(name, holder, ttlMs, now) {
      // Insert, or take over when the lease is ours already or has expired: one statement, so two
      // servers racing for an expired lease cannot both win.
      const row = await db
        .insertInto('leases')
        .values({ name, holder, expires_at: now + ttlMs })
        .onConflict((oc) =>
          oc
            .column('name')
            .doUpdateSet({ holder, expires_at: now + ttlMs })
            .where((eb) => eb.or([eb('leases.holder', '=', holder), eb('leases.expires_at', '<=', now)])),
        )
        .returning('holder')
        .executeTakeFirst();
      return row?.holder === holder;
    },

    async release(name, holder) {
      await db.deleteFrom('leases').where('name', '=', name).where('holder', '=', holder).execute();
    },

    async holder(name, now) {
      const row = await db.selectFrom('leases').select(['holder']).where('name', '=', name).where('expires_at', '>', now).executeTakeFirst();
      return row?.holder;
    },
  };
}

