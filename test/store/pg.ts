/**
 * A throw-away PostgreSQL database per test file: `cs_test_<random>` on the server named by
 * COUNTERSIGN_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test), dropped at the end.
 * When the server cannot be reached the caller skips, loudly; under CI that is a failure.
 *
 * In a test file: `const pg = await probePostgres()` at collection time, then inside a describe
 * `const db = tempDatabaseHooks()` creates the database in beforeAll and drops it in afterAll (so
 * a filtered run that skips the suite leaves nothing behind).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

export const PG_BASE_URL = process.env.COUNTERSIGN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TempDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

export type Reachability = { readonly ok: true } | { readonly ok: false; readonly reason: string };
export type TempDatabaseResult = { readonly ok: true; readonly db: TempDatabase } | { readonly ok: false; readonly reason: string };

async function connectAdmin(): Promise<pg.Client | string> {
  const admin = new pg.Client({ connectionString: PG_BASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
    return admin;
  } catch (e) {
    await admin.end().catch(() => undefined);
    const reason = `PostgreSQL at ${redact(PG_BASE_URL)} is unreachable (${(e as Error).message})`;
    if (process.env.CI) throw new Error(`${reason}; CI requires it`);
    console.warn(`\n${'!'.repeat(80)}\n!! SKIPPING PostgreSQL tests: ${reason}\n${'!'.repeat(80)}\n`);
    return reason;
  }
}

/** Whether the test server answers (throws under CI when it does not). */
export async function probePostgres(): Promise<Reachability> {
  const admin = await connectAdmin();
  if (typeof admin === 'string') return { ok: false, reason: admin };
  await admin.end();
  return { ok: true };
}

/** Creates a database now; the caller drops it. */
export async function createTempDatabase(): Promise<TempDatabaseResult> {
  const admin = await connectAdmin();
  if (typeof admin === 'string') return { ok: false, reason: admin };
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

/** Registers beforeAll/afterAll that create and drop a database; `url()` is valid inside tests and hooks after them. */
export function tempDatabaseHooks(): { url(): string } {
  let db: TempDatabase | undefined;
  beforeAll(async () => {
    const result = await createTempDatabase();
    if (!result.ok) throw new Error(result.reason);
    db = result.db;
  });
  afterAll(async () => {
    await db?.drop();
  });
  return {
    url() {
      if (db === undefined) throw new Error('the temporary database exists only while the suite runs');
      return db.url;
    },
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
