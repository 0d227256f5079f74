/** PostgreSQL schema, version 7: what answers a texted code or a phone call (its keyed hash), kept on the authentication. */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export const phoneMethods: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await sql.raw(`ALTER TABLE authentications ADD COLUMN challenge_hash text`).execute(db);
  },
};
