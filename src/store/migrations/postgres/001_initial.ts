/** PostgreSQL schema, version 1. Times are epoch milliseconds; lower-cased keys sort by code point ("C"), as on SQLite. */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

const statements = [
  `CREATE TABLE users (
    id text NOT NULL PRIMARY KEY,
    username text NOT NULL,
    username_lc text COLLATE "C" NOT NULL CONSTRAINT users_username_lc_key UNIQUE,
    display_name text,
    display_name_lc text,
    email text,
    email_lc text,
    phone text,
    backup_phone text,
    language text NOT NULL,
    status text NOT NULL,
    blocked_at bigint,
    blocked_reason text,
    locked_at bigint,
    failed_count integer NOT NULL DEFAULT 0,
    default_method text,
    pin_hash text,
    password_hash text,
    source_kind text NOT NULL,
    source_directory text,
    source_external_id text,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
  )`,
  // Status filters page through these small partial indexes instead of scanning every user.
  `CREATE INDEX users_disabled_idx ON users (username_lc) WHERE status = 'disabled'`,
  `CREATE INDEX users_blocked_idx ON users (username_lc) WHERE blocked_at IS NOT NULL`,
  `CREATE INDEX users_locked_idx ON users (username_lc) WHERE locked_at IS NOT NULL`,
  // Directory users are found by their stable id; one Countersign user per directory entry.
  `CREATE UNIQUE INDEX users_source_idx ON users (source_directory, source_external_id) WHERE source_directory IS NOT NULL`,

  `CREATE TABLE methods (
    id text NOT NULL PRIMARY KEY,
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type text NOT NULL,
    label text NOT NULL,
    secret text NOT NULL,
    config text NOT NULL,
    last_step bigint,
    drift integer NOT NULL DEFAULT 0,
    created_at bigint NOT NULL,
    last_used_at bigint
  )`,
  `CREATE INDEX methods_user_id_idx ON methods (user_id)`,

  `CREATE TABLE applications (
    id text NOT NULL PRIMARY KEY,
    name text NOT NULL,
    name_lc text COLLATE "C" NOT NULL CONSTRAINT applications_name_lc_key UNIQUE,
    require_user_match boolean NOT NULL,
    trusted_ips text NOT NULL,
    cache_seconds integer,
    allowed_methods text,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
  )`,

  `CREATE TABLE api_keys (
    id text NOT NULL PRIMARY KEY,
    lookup_id text NOT NULL CONSTRAINT api_keys_lookup_id_key UNIQUE,
    hash text NOT NULL,
    name text NOT NULL,
    role text NOT NULL,
    created_at bigint NOT NULL,
    last_used_at bigint,
    revoked_at bigint
  )`,

  `CREATE TABLE bypasses (
    id text NOT NULL PRIMARY KEY,
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason text NOT NULL,
    created_by text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    used_at bigint
  )`,
  // At most one unused bypass per user: issue() upserts on it, consume() can match only one row.
  `CREATE UNIQUE INDEX bypasses_unused_key ON bypasses (user_id) WHERE used_at IS NULL`,
  `CREATE INDEX bypasses_user_idx ON bypasses (user_id, created_at)`,

  `CREATE TABLE authentications (
    id text NOT NULL PRIMARY KEY,
    user_id text REFERENCES users (id) ON DELETE CASCADE,
    username text NOT NULL,
    application_id text NOT NULL,
    application_name text NOT NULL,
    client_ip text,
    state text NOT NULL,
    reason text NOT NULL,
    method_id text,
    method_type text,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    expires_at bigint NOT NULL
  )`,
  `CREATE INDEX authentications_approval_idx ON authentications (user_id, application_id, client_ip, created_at) WHERE state = 'approved'`,
  `CREATE INDEX authentications_created_idx ON authentications (created_at)`,

  `CREATE TABLE audit_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at bigint NOT NULL,
    kind text NOT NULL,
    action text NOT NULL,
    result text NOT NULL,
    reason text,
    username text,
    username_lc text COLLATE "C",
    user_id text,
    display_name text,
    email text,
    phone text,
    device text,
    method text,
    mode text,
    application text,
    server_name text,
    client_ip text,
    actor text,
    authentication_id text,
    details text
  )`,
  `CREATE INDEX audit_events_username_idx ON audit_events (username_lc, id)`,
  `CREATE INDEX audit_events_application_idx ON audit_events (application, id)`,
  `CREATE INDEX audit_events_result_idx ON audit_events (result, id)`,
  `CREATE INDEX audit_events_at_idx ON audit_events (at)`,

  `CREATE TABLE settings (
    key text NOT NULL PRIMARY KEY,
    value text NOT NULL,
    updated_at bigint NOT NULL
  )`,
];

export const initial: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const statement of statements) await sql.raw(statement).execute(db);
  },
};
