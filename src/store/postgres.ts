/** PostgreSQL through a pg Pool. int8 values (times, counters, audit ids) come back as numbers. */
import pg from 'pg';
import { PostgresDialect } from 'kysely';

const INT8_OID = 20;
const CONNECT_TIMEOUT_MS = 5000;

function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} exceeds the safe integer range`);
  return n;
}

/** Type parsers for this pool only, so other pg users in the process keep their defaults. */
const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === INT8_OID && format !== 'binary') return parseInt8;
    return pg.types.getTypeParser(oid, format as 'text') as (value: string) => unknown;
  },
};

export function postgresDialect(connectionString: string, poolSize: number): PostgresDialect {
  const pool = new pg.Pool({
    connectionString,
    max: poolSize,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    types: typeParsers as pg.CustomTypesConfig,
  });
  // An idle client losing its connection emits 'error' on the pool; unhandled, it would end the
  // process. The next query reports the outage to its caller instead.
  pool.on('error', () => undefined);
  return new PostgresDialect({ pool });
}
