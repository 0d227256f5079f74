/** PostgreSQL schema, version 3: console roles of users, methods awaiting confirmation, and portal and console sign-in sessions. */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

const statements = [
  `ALTER TABLE methods ADD COLUMN pending boolean NOT NULL DEFAULT false`,
  `ALTER TABLE users ADD COLUMN console_role text`,
  `CREATE INDEX users_console_role_idx ON users (console_role) WHERE console_role IS NOT NULL`,
  `CREATE TABLE sessions (
    id_hash text NOT NULL PRIMARY KEY,
    kind text NOT NULL,
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stage text NOT NULL,
    csrf text NOT NULL,
    data text NOT NULL,
    client_ip text,
    created_at bigint NOT NULL,
    last_seen_at bigint NOT NULL,
    expires_at bigint NOT NULL
  )`,
  `CREATE INDEX sessions_user_idx ON sessions (user_id)`,
  `CREATE INDEX sessions_expires_idx ON sessions (expires_at)`,
];

export const sessions: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const statement of statements) await sql.raw(statement).execute(db);
  },
};
