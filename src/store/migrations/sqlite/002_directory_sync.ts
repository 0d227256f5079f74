/** SQLite schema, version 2: directory synchronization (entry digests, state, runs) and leases. */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

const statements = [
  `CREATE TABLE directory_entries (
    directory TEXT NOT NULL,
    external_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    disabled_by_sync INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (directory, external_id)
  ) STRICT, WITHOUT ROWID`,
  `CREATE INDEX directory_entries_user_idx ON directory_entries (user_id)`,
  `CREATE TABLE directory_sync_state (
    directory TEXT NOT NULL PRIMARY KEY,
    cursor TEXT,
    last_full_at INTEGER,
    last_run_at INTEGER
  ) STRICT`,
  `CREATE TABLE directory_sync_runs (
    id TEXT NOT NULL PRIMARY KEY,
    directory TEXT NOT NULL,
    mode TEXT NOT NULL,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL,
    node TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    counts TEXT NOT NULL,
    errors TEXT NOT NULL,
    pending TEXT NOT NULL,
    failure TEXT,
    decided_by TEXT,
    decided_at INTEGER
  ) STRICT`,
  `CREATE INDEX directory_sync_runs_directory_idx ON directory_sync_runs (directory, started_at)`,
  `CREATE TABLE leases (
    name TEXT NOT NULL PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT`,
  // Removal detection pages through a directory's users by id.
  `CREATE INDEX users_source_id_idx ON users (source_directory, id) WHERE source_directory IS NOT NULL`,
];

export const directorySync: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const statement of statements) await sql.raw(statement).execute(db);
  },
};
