/**
 * Numbered migrations per dialect, applied in order on open. Add a migration as
 * `<dialect>/NNN_name.ts` and list it here under both dialects with the same key.
 */
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import { Migrator } from 'kysely/migration';
import { CoreError } from '../../core/errors.ts';
import { isUnavailable } from '../errors.ts';
import { initial as postgresInitial } from './postgres/001_initial.ts';
import { initial as sqliteInitial } from './sqlite/001_initial.ts';
import { directorySync as postgresDirectorySync } from './postgres/002_directory_sync.ts';
import { directorySync as sqliteDirectorySync } from './sqlite/002_directory_sync.ts';
import { sessions as postgresSessions } from './postgres/003_sessions.ts';
import { sessions as sqliteSessions } from './sqlite/003_sessions.ts';
import { reports as postgresReports } from './postgres/004_reports.ts';
import { reports as sqliteReports } from './sqlite/004_reports.ts';
import { phoneVerification as postgresPhoneVerification } from './postgres/005_phone_verification.ts';
import { phoneVerification as sqlitePhoneVerification } from './sqlite/005_phone_verification.ts';
import { phoneMethods as postgresPhoneMethods } from './postgres/007_phone_methods.ts';
import { phoneMethods as sqlitePhoneMethods } from './sqlite/007_phone_methods.ts';
import { replyAttributes as postgresReplyAttributes } from './postgres/006_reply-attributes.ts';
import { replyAttributes as sqliteReplyAttributes } from './sqlite/006_reply-attributes.ts';

const migrations: Record<'sqlite' | 'postgres', Record<string, Migration>> = {
  sqlite: { '001_initial': sqliteInitial, '002_directory_sync': sqliteDirectorySync, '003_sessions': sqliteSessions, '004_reports': sqliteReports, '005_phone_verification': sqlitePhoneVerification, '006_reply-attributes': sqliteReplyAttributes, '007_phone_methods': sqlitePhoneMethods },
  postgres: { '001_initial': postgresInitial, '002_directory_sync': postgresDirectorySync, '003_sessions': postgresSessions, '004_reports': postgresReports, '005_phone_verification': postgresPhoneVerification, '006_reply-attributes': postgresReplyAttributes, '007_phone_methods': postgresPhoneMethods },
};

/** Brings the schema to the latest version. Concurrent callers (other processes) wait for each other. */
export async function migrateToLatest(db: Kysely<unknown>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations[dialect] },
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error === undefined) return;
  const failed = results?.find((r) => r.status === 'Error')?.migrationName;
  // Connection trouble stays as it is (the caller reports it as store_unavailable).
  if (failed === undefined || isUnavailable(error)) throw error instanceof Error ? error : new Error('database migration failed', { cause: error });
  throw new CoreError('internal', `database migration ${failed} failed: ${(error as Error).message}`);
}
