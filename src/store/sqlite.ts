/**
 * SQLite through better-sqlite3 in WAL mode. Several OS processes may share one file: every
 * transaction starts with BEGIN IMMEDIATE (so a read-then-write never fails half-way with
 * SQLITE_BUSY) and each connection waits up to busy_timeout for the write lock.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { CompiledQuery, SqliteAdapter, SqliteDialect, SqliteDriver } from 'kysely';
import type { DatabaseConnection, DialectAdapter, Driver, SqliteDatabase, SqliteStatement } from 'kysely';
import type { SqliteLane } from './prepared.ts';

const BUSY_TIMEOUT_MS = 5000;
const STATEMENT_CACHE_SIZE = 256;

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/** SQLite runs DDL in transactions, so migrations run inside one BEGIN IMMEDIATE: two processes opening a new file migrate once. */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class CountersignSqliteDialect extends SqliteDialect {
  readonly #database: SqliteDatabase;
  /** The same connection, for the hot path's prepared queries run without Kysely's promise chain (prepared.ts). */
  readonly lane: SqliteLane;
  constructor(database: SqliteDatabase, lane: SqliteLane) {
    super({ database });
    this.#database = database;
    this.lane = lane;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver({ database: this.#database });
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

/**
 * Kysely prepares every statement it runs; keep the prepared ones (the SQL text is the key). A
 * prepared query (prepared.ts) passes the same string instance every time, so its lookup reuses
 * the string's cached hash and compares by identity (about 0.05 µs, against about 2 µs for the
 * freshly concatenated SQL the query builder makes).
 */
function withStatementCache(db: Database.Database): SqliteDatabase & SqliteLane {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let statement = cache.get(sql);
      if (statement === undefined) {
        statement = db.prepare(sql) as unknown as SqliteStatement;
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
        cache.set(sql, statement);
      }
      return statement;
    },
    get inTransaction(): boolean {
      return db.inTransaction;
    },
  };
}

/** `file` is a path or ':memory:'. */
export function sqliteDialect(file: string): CountersignSqliteDialect {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  // `timeout` is SQLite's busy_timeout: how long a statement waits for another process's lock.
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  try {
    if (file !== ':memory:') db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // 16 MiB of page cache (the default is 2 MiB) keeps the hot pages of a large directory in the
    // process; the rest comes from the OS page cache, outside the process's memory.
    db.pragma('cache_size = -16384');
  } catch (e) {
    db.close();
    throw e;
  }
  const cached = withStatementCache(db);
  return new CountersignSqliteDialect(cached, cached);
}
