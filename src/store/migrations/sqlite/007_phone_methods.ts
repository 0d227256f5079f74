/** SQLite schema, version 7: what answers a texted code, a phone call or a push request (its keyed hash), kept on the authentication; pending requests found by device. */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export const phoneMethods: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await sql.raw(`ALTER TABLE authentications ADD COLUMN challenge_hash TEXT`).execute(db);
    // A mobile device asks for its pending requests every few seconds.
    await sql.raw(`CREATE INDEX authentications_pending_method ON authentications (method_id) WHERE state = 'pending'`).execute(db);
  },
};
