/**
 * Table shapes as Kysely sees them, common to both dialects. Times are epoch milliseconds
 * (SQLite INTEGER, PostgreSQL bigint parsed as number); JSON values are stored as text;
 * `methods.secret` holds only the sealed form (see keyring.ts).
 */
import type { Generated } from 'kysely';

export interface UsersTable {
  id: string;
  username: string;
  username_lc: string;
  display_name: string | null;
  display_name_lc: string | null;
  email: string | null;
  email_lc: string | null;
  /** JSON Phone */
  phone: string | null;
  /** JSON Phone */
  backup_phone: string | null;
  /** Set when the phone was verified with a texted code; cleared when the phone changes. */
  phone_verified_at: number | null;
  backup_phone_verified_at: number | null;
  language: string;
  status: string;
  blocked_at: number | null;
  blocked_reason: string | null;
  locked_at: number | null;
  failed_count: number;
  default_method: string | null;
  pin_hash: string | null;
  /** argon2id PHC string of the local password, or null. */
  password_hash: string | null;
  source_kind: string;
  source_directory: string | null;
  source_external_id: string | null;
  /** 'admin' | 'helpdesk' | 'auditor' | null */
  console_role: string | null;
  /** JSON ReplyAttribute[]; '[]' when none. */
  reply_attributes: Generated<string>;
  created_at: number;
  updated_at: number;
}

export interface MethodsTable {
  id: string;
  user_id: string;
  type: string;
  label: string;
  /** Sealed: v1.<kid>.<iv>.<ciphertext+tag>, AAD = id. */
  secret: string;
  /** JSON OathConfig */
  config: string;
  last_step: number | null;
  drift: number;
  /** Set up but not confirmed with a code yet: not usable to sign in. boolean on PostgreSQL, 0/1 on SQLite. */
  pending: boolean | number;
  created_at: number;
  last_used_at: number | null;
}

export interface ApplicationsTable {
  id: string;
  name: string;
  name_lc: string;
  /** boolean on PostgreSQL, 0/1 on SQLite */
  require_user_match: boolean | number;
  /** JSON string[] */
  trusted_ips: string;
  cache_seconds: number | null;
  /** JSON MethodType[] or null */
  allowed_methods: string | null;
  created_at: number;
  updated_at: number;
}

export interface ApiKeysTable {
  id: string;
  lookup_id: string;
  hash: string;
  name: string;
  role: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface BypassesTable {
  id: string;
  user_id: string;
  reason: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface AuthenticationsTable {
  id: string;
  user_id: string | null;
  username: string;
  application_id: string;
  application_name: string;
  client_ip: string | null;
  state: string;
  reason: string;
  method_id: string | null;
  method_type: string | null;
  created_at: number;
  updated_at: number;
  expires_at: number;
  /** Keyed hash of the texted code or the call's token (007). */
  challenge_hash: string | null;
}

export interface AuditEventsTable {
  id: Generated<number>;
  at: number;
  kind: string;
  action: string;
  result: string;
  reason: string | null;
  username: string | null;
  username_lc: string | null;
  user_id: string | null;
  display_name: string | null;
  email: string | null;
  phone: string | null;
  device: string | null;
  method: string | null;
  mode: string | null;
  application: string | null;
  server_name: string | null;
  client_ip: string | null;
  actor: string | null;
  authentication_id: string | null;
  /** JSON object or null */
  details: string | null;
}

export interface SettingsTable {
  key: string;
  /** JSON */
  value: string;
  updated_at: number;
}

export interface DirectoryEntriesTable {
  directory: string;
  external_id: string;
  user_id: string;
  digest: string;
  /** boolean on PostgreSQL, 0/1 on SQLite */
  disabled_by_sync: boolean | number;
}

export interface DirectorySyncStateTable {
  directory: string;
  /** JSON SyncCursor or null */
  cursor: string | null;
  last_full_at: number | null;
  last_run_at: number | null;
}

export interface DirectorySyncRunsTable {
  id: string;
  directory: string;
  mode: string;
  trigger: string;
  status: string;
  node: string;
  started_at: number;
  finished_at: number | null;
  /** JSON SyncCounts */
  counts: string;
  /** JSON SyncRunError[] */
  errors: string;
  /** JSON PendingChange[] */
  pending: string;
  failure: string | null;
  decided_by: string | null;
  decided_at: number | null;
}

export interface SessionsTable {
  /** Keyed hash of the session token; the token itself is never stored. */
  id_hash: string;
  kind: string;
  user_id: string;
  stage: string;
  csrf: string;
  /** JSON object */
  data: string;
  client_ip: string | null;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

/** Codes texted to verify a phone; one per user and phone. */
export interface PhoneCodesTable {
  user_id: string;
  /** 'phone' | 'backupPhone' */
  which: string;
  /** Keyed hash (see KeyedHasher); the code itself is never stored. */
  hash: string;
  sent_at: number;
  expires_at: number;
  attempts: number;
}

export interface LeasesTable {
  name: string;
  holder: string;
  expires_at: number;
}

export interface Database {
  directory_entries: DirectoryEntriesTable;
  directory_sync_state: DirectorySyncStateTable;
  directory_sync_runs: DirectorySyncRunsTable;
  leases: LeasesTable;
  phone_codes: PhoneCodesTable;
  sessions: SessionsTable;
  users: UsersTable;
  methods: MethodsTable;
  applications: ApplicationsTable;
  api_keys: ApiKeysTable;
  bypasses: BypassesTable;
  authentications: AuthenticationsTable;
  audit_events: AuditEventsTable;
  settings: SettingsTable;
}
