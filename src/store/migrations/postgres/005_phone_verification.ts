/** PostgreSQL schema, version 5: verified phones and the codes texted to verify them. */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

const statements = [
  `ALTER TABLE users ADD COLUMN phone_verified_at bigint`,
  `ALTER TABLE users ADD COLUMN backup_phone_verified_at bigint`,
  `CREATE TABLE phone_codes (
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    which text NOT NULL,
    hash text NOT NULL,
    sent_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, which)
  )`,
];

export const phoneVerification: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const statement of statements) await sql.raw(statement).execute(db);
  },
};
