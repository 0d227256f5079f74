/** SQLite schema, version 5: verified phones and the codes texted to verify them. */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

const statements = [
  `ALTER TABLE users ADD COLUMN phone_verified_at INTEGER`,
  `ALTER TABLE users ADD COLUMN backup_phone_verified_at INTEGER`,
  `CREATE TABLE phone_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    which TEXT NOT NULL,
    hash TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, which)
  ) STRICT, WITHOUT ROWID`,
];

export const phoneVerification: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const statement of statements) await sql.raw(statement).execute(db);
  },
};
