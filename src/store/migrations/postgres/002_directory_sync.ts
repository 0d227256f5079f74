/** PostgreSQL schema, version 2: directory synchronization (entry digests, state, runs) and leases. */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

const statements = [
  `CREATE TABLE directory_entries (
    directory text NOT NULL,
    external_id text NOT NULL,
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest text NOT NULL,
    disabled_by_sync boolean NOT NULL DEFAULT false,
    PRIMARY KEY (directory, external_id)
  )`,
  `CREATE INDEX directory_entries_user_idx ON directory_entries (user_id)`,
  `CREATE TABLE directory_sync_state (
    directory text NOT NULL PRIMARY KEY,
    cursor text,
    last_full_at bigint,
    last_run_at bigint
  )`,
  `CREATE TABLE directory_sync_runs (
    id text NOT NULL PRIMARY KEY,
    directory text NOT NULL,
    mode text NOT NULL,
    trigger text NOT NULL,
    status text NOT NULL,
    node text NOT NULL,
    started_at bigint NOT NULL,
    finished_at bigint,
    counts text NOT NULL,
    errors text NOT NULL,
    pending text NOT NULL,
    failure text,
    decided_by text,
    decided_at bigint
  )`,
  `CREATE INDEX directory_sync_runs_directory_idx ON directory_sync_runs (directory, started_at)`,
  `CREATE TABLE leases (
    name text NOT NULL PRIMARY KEY,
    holder text NOT NULL,
    expires_at bigint NOT NULL
  )`,
  // Removal detection pages through a directory's users by id.
  `CREATE INDEX users_source_id_idx ON users (source_directory, id) WHERE source_directory IS NOT NULL`,
];

export const directorySync: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const statement of statements) await sql.raw(statement).execute(db);
  },
};
