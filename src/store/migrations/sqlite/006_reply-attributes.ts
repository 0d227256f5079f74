/** SQLite schema, version 6: the RADIUS reply attributes of each user. */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

// JSON list of {name, value}; existing users get none.
const statements = [`ALTER TABLE users ADD COLUMN reply_attributes TEXT NOT NULL DEFAULT '[]'`];

export const replyAttributes: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const statement of statements) await sql.raw(statement).execute(db);
  },
};
