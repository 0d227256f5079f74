/** PostgreSQL schema, version 4: administrative audit events found by action (the dashboard's latest fraud reports). */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

const statements = [
  // Partial: the authentication events, written on every sign-in, never maintain it.
  `CREATE INDEX audit_events_admin_action_idx ON audit_events (action, id) WHERE kind = 'admin'`,
];

export const reports: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const statement of statements) await sql.raw(statement).execute(db);
  },
};
