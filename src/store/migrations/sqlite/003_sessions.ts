/** SQLite schema, version 3: console roles of users, methods awaiting confirmation, and portal and console sign-in sessions. */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

const statements = [
  `ALTER TABLE methods ADD COLUMN pending INTEGER NOT NULL DEFAULT 0`,
  `ALTER TABLE users ADD COLUMN console_role TEXT`,
  `CREATE INDEX users_console_role_idx ON users (console_role) WHERE console_role IS NOT NULL`,
  `CREATE TABLE sessions (
    id_hash TEXT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stage TEXT NOT NULL,
    csrf TEXT NOT NULL,
    data TEXT NOT NULL,
    client_ip TEXT,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID`,
  `CREATE INDEX sessions_user_idx ON sessions (user_id)`,
  `CREATE INDEX sessions_expires_idx ON sessions (expires_at)`,
];

export const sessions: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const statement of statements) await sql.raw(statement).execute(db);
  },
};
