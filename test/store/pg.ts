/**
 * A throw-away PostgreSQL database per test file: `cs_test_<random>` on the server named by
 * COUNTERSIGN_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test), dropped at the end.
 * When the server cannot be reached the caller skips, loudly; under CI that is a failure.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_BASE_URL = process.env.COUNTERSIGN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TempDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

export type TempDatabaseResult = { readonly ok: true; readonly db: TempDatabase } | { readonly ok: false; readonly reason: string };

export async function createTempDatabase(): Promise<TempDatabaseResult> {
  const admin = new pg.Client({ connectionString: PG_BASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (e) {
    const reason = `PostgreSQL at ${redact(PG_BASE_URL)} is unreachable (${(e as Error).message})`;
    if (process.env.CI) throw new Error(`${reason}; CI requires it`);
    console.warn(`\n${'!'.repeat(80)}\n!! SKIPPING PostgreSQL store tests: ${reason}\n${'!'.repeat(80)}\n`);
    return { ok: false, reason };
  }
  const name = `cs_test_${randomBytes(6).toString('hex')}`;
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_BASE_URL);
  url.pathname = `/${name}`;
  return {
    ok: true,
    db: {
      url: url.toString(),
      async drop() {
        const client = new pg.Client({ connectionString: PG_BASE_URL });
        await client.connect();
        try {
          await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } finally {
          await client.end();
        }
      },
    },
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
