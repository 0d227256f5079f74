/** What every store part is built from. */
import type { Kysely } from 'kysely';
import type { Keyring } from './keyring.ts';
import type { SqliteLane } from './prepared.ts';
import type { WriteBatcher } from './write-batch.ts';
import type { Database } from './schema.ts';

export interface StoreContext {
  readonly db: Kysely<Database>;
  readonly dialect: 'sqlite' | 'postgres';
  readonly keyring: Keyring;
  /** Group commit for the hot-path writes. */
  readonly writes: WriteBatcher;
  /** SQLite: the connection, for the hot path's prepared queries (prepared.ts); null on PostgreSQL. */
  readonly lane: SqliteLane | null;
}

/** A row count reported by Kysely (bigint) as a number. */
export function count(n: bigint | number | undefined): number {
  return Number(n ?? 0);
}

/** JSON text column to value. */
export function parseJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export function toJson(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** Escapes LIKE wildcards; use with `ESCAPE '\'`. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
