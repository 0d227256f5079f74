/**
 * The store: the Store port (src/core/ports.ts) over SQLite or PostgreSQL through Kysely.
 *
 *     const store = await openStore({ url: 'sqlite:./data/countersign.db', keyring });
 *
 * `url` forms: `sqlite:./relative.db`, `sqlite:/absolute.db`, `sqlite::memory:`,
 * `postgres://user:password@host:5432/db` (or `postgresql://`), with `?pool=N` for the pool size
 * (default 10). The schema is migrated on open unless `migrate: false`. Method secrets are sealed
 * with the keyring before they reach the database and opened on read.
 */
import { resolve } from 'node:path';
import { Kysely, sql } from 'kysely';
import type { Dialect } from 'kysely';
import { CoreError } from '../core/errors.ts';
import type { Store } from '../core/ports.ts';
import { createApiKeyStore } from './api-keys.ts';
import { createApplicationStore } from './applications.ts';
import { createAuditStore } from './audit.ts';
import { createAuthenticationStore } from './authentications.ts';
import { createBypassStore } from './bypasses.ts';
import { createDirectorySyncStore, createLeaseStore } from './directory-sync.ts';
import type { StoreContext } from './context.ts';
import { translateError, withTranslatedErrors } from './errors.ts';
import type { Keyring } from './keyring.ts';
import { createMethodStore } from './methods.ts';
import { migrateToLatest } from './migrations/index.ts';
import { postgresDialect } from './postgres.ts';
import type { Database } from './schema.ts';
import { createReportStore } from './reports.ts';
import { createSessionStore } from './sessions.ts';
import { createSettingsStore } from './settings.ts';
import { createWriteBatcher } from './write-batch.ts';
import { sqliteDialect } from './sqlite.ts';
import { createPhoneCodeStore } from './phone-codes.ts';
import type { SqliteLane } from './prepared.ts';
import { createUserStore } from './users.ts';

export interface OpenStoreOptions {
  readonly url: string;
  readonly keyring: Keyring;
  /** Apply pending migrations on open (default true). */
  readonly migrate?: boolean;
}

export type DatabaseTarget = { readonly kind: 'sqlite'; readonly file: string } | { readonly kind: 'postgres'; readonly url: string; readonly pool: number };

const DEFAULT_POOL = 10;
const MAX_POOL = 1000;
const URL_FORMS = '"sqlite:./file.db", "sqlite:/absolute/file.db", "sqlite::memory:", or "postgres://user:password@host:5432/database" (also "postgresql://", with optional "?pool=N")';

function invalidUrl(why: string): CoreError {
  // The URL itself is not repeated: it may carry a password.
  return new CoreError('config_invalid', `database.url ${why}; allowed forms: ${URL_FORMS}`, { 'database.url': why });
}

/** Parses `database.url`. Relative SQLite paths are resolved against the working directory. */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (url.startsWith('sqlite:')) {
    const rest = url.slice('sqlite:'.length);
    if (rest === ':memory:') return { kind: 'sqlite', file: ':memory:' };
    if (rest === '' || rest.startsWith('//')) throw invalidUrl('must give a file path after "sqlite:"');
    return { kind: 'sqlite', file: resolve(rest) };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalidUrl('is not a valid PostgreSQL URL');
    }
    let pool = DEFAULT_POOL;
    const poolParam = parsed.searchParams.get('pool');
    if (poolParam !== null) {
      if (!/^[0-9]+$/.test(poolParam) || Number(poolParam) < 1 || Number(poolParam) > MAX_POOL) {
        throw invalidUrl(`has pool=${poolParam}; pool must be an integer from 1 to ${MAX_POOL}`);
      }
      pool = Number(poolParam);
      parsed.searchParams.delete('pool');
    }
    return { kind: 'postgres', url: parsed.toString(), pool };
  }
  throw invalidUrl('has an unknown scheme');
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const target = parseDatabaseUrl(opts.url);
  let dialect: Dialect;
  let lane: SqliteLane | null = null;
  if (target.kind === 'sqlite') {
    try {
      const sqlite = sqliteDialect(target.file);
      dialect = sqlite;
      lane = sqlite.lane;
    } catch (e) {
      throw new CoreError('store_unavailable', `cannot open SQLite database ${target.file}: ${(e as Error).message}`);
    }
  } else {
    dialect = postgresDialect(target.url, target.pool);
  }
  const db = new Kysely<Database>({ dialect });
  try {
    if (opts.migrate === false) await sql`select 1`.execute(db);
    else await migrateToLatest(db as Kysely<unknown>, target.kind);
  } catch (e) {
    await db.destroy().catch(() => undefined);
    const translated = translateError(e);
    throw translated instanceof CoreError ? translated : new CoreError('internal', `cannot prepare the database schema: ${(e as Error).message}`);
  }
  return createStore({ db, dialect: target.kind, keyring: opts.keyring, writes: createWriteBatcher(db, lane), lane });
}

function createStore(ctx: StoreContext): Store {
  const { db } = ctx;
  return {
    dialect: ctx.dialect,
    users: withTranslatedErrors(createUserStore(ctx)),
    phoneCodes: withTranslatedErrors(createPhoneCodeStore(ctx)),
    directorySync: withTranslatedErrors(createDirectorySyncStore(ctx)),
    leases: withTranslatedErrors(createLeaseStore(ctx)),
    sessions: withTranslatedErrors(createSessionStore(ctx)),
    methods: withTranslatedErrors(createMethodStore(ctx)),
    applications: withTranslatedErrors(createApplicationStore(ctx)),
    bypasses: withTranslatedErrors(createBypassStore(ctx)),
    authentications: withTranslatedErrors(createAuthenticationStore(ctx)),
    apiKeys: withTranslatedErrors(createApiKeyStore(ctx)),
    audit: withTranslatedErrors(createAuditStore(ctx)),
    reports: withTranslatedErrors(createReportStore(ctx)),
    settings: withTranslatedErrors(createSettingsStore(ctx)),
    async ping() {
      try {
        await sql`select 1`.execute(db);
      } catch (e) {
        throw translateError(e);
      }
    },
    async close() {
      await ctx.writes.drain();
      await db.destroy();
    },
  };
}
