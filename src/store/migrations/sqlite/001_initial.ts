/** SQLite schema, version 1. STRICT tables; times are epoch milliseconds. */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

const statements = [
  `CREATE TABLE users (
    id TEXT NOT NULL PRIMARY KEY,
    username TEXT NOT NULL,
    username_lc TEXT NOT NULL CONSTRAINT users_username_lc_key UNIQUE,
    display_name TEXT,
    display_name_lc TEXT,
    email TEXT,
    email_lc TEXT,
    phone TEXT,
    backup_phone TEXT,
    language TEXT NOT NULL,
    status TEXT NOT NULL,
    blocked_at INTEGER,
    blocked_reason TEXT,
    locked_at INTEGER,
    failed_count INTEGER NOT NULL DEFAULT 0,
    default_method TEXT,
    pin_hash TEXT,
    password_hash TEXT,
    source_kind TEXT NOT NULL,
    source_directory TEXT,
    source_external_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT`,
  // Status filters page through these small partial indexes instead of scanning every user.
  `CREATE INDEX users_disabled_idx ON users (username_lc) WHERE status = 'disabled'`,
  `CREATE INDEX users_blocked_idx ON users (username_lc) WHERE blocked_at IS NOT NULL`,
  `CREATE INDEX users_locked_idx ON users (username_lc) WHERE locked_at IS NOT NULL`,
  // Directory users are found by their stable id; one Countersign user per directory entry.
  `CREATE UNIQUE INDEX users_source_idx ON users (source_directory, source_external_id) WHERE source_directory IS NOT NULL`,

  `CREATE TABLE methods (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    label TEXT NOT NULL,
    secret TEXT NOT NULL,
    config TEXT NOT NULL,
    last_step INTEGER,
    drift INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
  ) STRICT`,
  `CREATE INDEX methods_user_id_idx ON methods (user_id)`,

  `CREATE TABLE applications (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    name_lc TEXT NOT NULL CONSTRAINT applications_name_lc_key UNIQUE,
    require_user_match INTEGER NOT NULL,
    trusted_ips TEXT NOT NULL,
    cache_seconds INTEGER,
    allowed_methods TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT`,

  `CREATE TABLE api_keys (
    id TEXT NOT NULL PRIMARY KEY,
    lookup_id TEXT NOT NULL CONSTRAINT api_keys_lookup_id_key UNIQUE,
    hash TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
  ) STRICT`,

  `CREATE TABLE bypasses (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
  ) STRICT`,
  // At most one unused bypass per user: issue() upserts on it, consume() can match only one row.
  `CREATE UNIQUE INDEX bypasses_unused_key ON bypasses (user_id) WHERE used_at IS NULL`,
  `CREATE INDEX bypasses_user_idx ON bypasses (user_id, created_at)`,

  `CREATE TABLE authentications (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    username TEXT NOT NULL,
    application_id TEXT NOT NULL,
    application_name TEXT NOT NULL,
    client_ip TEXT,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    method_id TEXT,
    method_type TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT`,
  `CREATE INDEX authentications_approval_idx ON authentications (user_id, application_id, client_ip, created_at) WHERE state = 'approved'`,
  `CREATE INDEX authentications_created_idx ON authentications (created_at)`,

  // Plain INTEGER PRIMARY KEY: ids grow as max(id) + 1 without AUTOINCREMENT's extra write to
  // sqlite_sequence on every insert. Ids stay increasing because only the oldest events are ever
  // deleted (retention), never the newest.
  `CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    result TEXT NOT NULL,
    reason TEXT,
    username TEXT,
    username_lc TEXT,
    user_id TEXT,
    display_name TEXT,
    email TEXT,
    phone TEXT,
    device TEXT,
    method TEXT,
    mode TEXT,
    application TEXT,
    server_name TEXT,
    client_ip TEXT,
    actor TEXT,
    authentication_id TEXT,
    details TEXT
  ) STRICT`,
  `CREATE INDEX audit_events_username_idx ON audit_events (username_lc, id)`,
  `CREATE INDEX audit_events_application_idx ON audit_events (application, id)`,
  `CREATE INDEX audit_events_result_idx ON audit_events (result, id)`,
  `CREATE INDEX audit_events_at_idx ON audit_events (at)`,

  `CREATE TABLE settings (
    key TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT`,
];

export const initial: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const statement of statements) await sql.raw(statement).execute(db);
  },
};
