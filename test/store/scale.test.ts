/**
 * The store with 200,000 users: user listing pages through indexes (no sort, no full scan for the
 * status filters, no COUNT per page) and the hot-path lookups use their indexes, on both dialects.
 * Plans are asserted on the SQL the store itself compiles; timings are printed, not asserted.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/core/ports.ts';
import type { UserQuery } from '../../src/core/types.ts';
import { openStore } from '../../src/store/index.ts';
import { keyringFromKeys } from '../../src/store/keyring.ts';
import type { Database as Schema } from '../../src/store/schema.ts';
import { methodsForUserQuery } from '../../src/store/methods.ts';
import { userStateQueries } from '../../src/store/reports.ts';
import { userListQuery } from '../../src/store/users.ts';
import { createCore } from '../../src/core/index.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { argon2Hasher, hmacHasher } from '../../src/platform/hashing.ts';
import { systemRandom } from '../../src/platform/random.ts';
import { probePostgres, tempDatabaseHooks } from './pg.ts';
import { tempDirHooks } from './temp-dir.ts';

const USERS = 200_000;
const keyring = keyringFromKeys({ k1: randomBytes(32) }, 'k1', randomBytes(32));
const T0 = Date.UTC(2026, 0, 1);

/** A Kysely that only compiles, to get the store's SQL for EXPLAIN. */
function compilerFor(dialect: 'sqlite' | 'postgres'): Kysely<Schema> {
  return new Kysely<Schema>({
    dialect: {
      createAdapter: () => (dialect === 'sqlite' ? new SqliteAdapter() : new PostgresAdapter()),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => (dialect === 'sqlite' ? new SqliteIntrospector(db) : new PostgresIntrospector(db)),
      createQueryCompiler: () => (dialect === 'sqlite' ? new SqliteQueryCompiler() : new PostgresQueryCompiler()),
    },
  });
}

// Every 1000th user from offset 1 is disabled, 2 blocked, 3 locked, 4 blocked and locked.
const SQLITE_FILL = `
  WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${USERS - 1})
  INSERT INTO users (id, username, username_lc, display_name, display_name_lc, email, email_lc, language, status,
                     blocked_at, blocked_reason, locked_at, failed_count, source_kind, created_at, updated_at)
  SELECT 'id-' || i, 'User' || printf('%06d', i), 'user' || printf('%06d', i), 'Person ' || i, 'person ' || i,
         'mail' || i || '@Example.org', 'mail' || i || '@example.org', 'en',
         CASE WHEN i % 1000 = 1 THEN 'disabled' ELSE 'enabled' END,
         CASE WHEN i % 1000 IN (2, 4) THEN 1 END, CASE WHEN i % 1000 IN (2, 4) THEN 'r' END,
         CASE WHEN i % 1000 IN (3, 4) THEN 1 END, 0, 'local', 1, 1
  FROM n`;

// One (unreadable, placeholder-sealed) method per user, so the planner sees a realistic methods table.
const SQLITE_FILL_METHODS = `
  WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${USERS - 1})
  INSERT INTO methods (id, user_id, type, label, secret, config, last_step, drift, created_at, last_used_at)
  SELECT 'm-' || i, 'id-' || i, 'totp', 'token', 'v1.k0.placeholder.placeholder', '{}', NULL, 0, 1, NULL FROM n`;

const PG_FILL_METHODS = `
  INSERT INTO methods (id, user_id, type, label, secret, config, last_step, drift, created_at, last_used_at)
  SELECT 'm-' || i, 'id-' || i, 'totp', 'token', 'v1.k0.placeholder.placeholder', '{}', NULL, 0, 1, NULL
  FROM generate_series(0, ${USERS - 1}) AS i`;

const PG_FILL = `
  INSERT INTO users (id, username, username_lc, display_name, display_name_lc, email, email_lc, language, status,
                     blocked_at, blocked_reason, locked_at, failed_count, source_kind, created_at, updated_at)
  SELECT 'id-' || i, 'User' || lpad(i::text, 6, '0'), 'user' || lpad(i::text, 6, '0'), 'Person ' || i, 'person ' || i,
         'mail' || i || '@Example.org', 'mail' || i || '@example.org', 'en',
         CASE WHEN i % 1000 = 1 THEN 'disabled' ELSE 'enabled' END,
         CASE WHEN i % 1000 IN (2, 4) THEN 1 END, CASE WHEN i % 1000 IN (2, 4) THEN 'r' END,
         CASE WHEN i % 1000 IN (3, 4) THEN 1 END, 0, 'local', 1, 1
  FROM generate_series(0, ${USERS - 1}) AS i`;

const LIST_CASES: Array<[string, UserQuery]> = [
  ['first page', { limit: 50 }],
  ['deep page (after)', { limit: 50, after: 'user150000' }],
  ['disabled', { limit: 50, status: 'disabled' }],
  ['blocked', { limit: 50, status: 'blocked' }],
  ['locked', { limit: 50, status: 'locked' }],
  ['enabled', { limit: 50, status: 'enabled' }],
  ['locked, deep page', { limit: 50, status: 'locked', after: 'user150000' }],
];
const SEARCH_CASES: Array<[string, UserQuery]> = [
  ['search, many matches', { limit: 50, search: 'USER1' }],
  ['search, one match (full scan)', { limit: 50, search: 'mail199999@' }],
  ['search, no match (full scan)', { limit: 50, search: 'nobody-at-all' }],
];

async function median(fn: () => Promise<unknown>, runs = 15): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(runs / 2)] as number;
}

/** Timings through the store API, printed as a table for the record. */
async function measure(name: string, store: Store): Promise<void> {
  const rows: Array<{ operation: string; 'median ms': string; note?: string }> = [];
  for (const [label, query] of [...LIST_CASES, ...SEARCH_CASES]) {
    rows.push({ operation: `users.list: ${label}`, 'median ms': (await median(() => store.users.list(query))).toFixed(2) });
  }
  rows.push({ operation: 'users.count', 'median ms': (await median(() => store.users.count())).toFixed(2) });
  rows.push({ operation: 'reports.userStates', 'median ms': (await median(() => store.reports.userStates())).toFixed(2) });
  const core = createCore({ store, clock: systemClock, random: systemRandom, passwords: argon2Hasher(), keyedHasher: hmacHasher(keyring.pepper), serverName: 'scale' });
  rows.push({ operation: 'core.reports.summary (dashboard)', 'median ms': (await median(() => core.reports.summary())).toFixed(2) });

  // The store's share of one passcode check: look up the user and methods, consume the step,
  // record the authentication and its audit event.
  const users = [];
  for (let i = 0; i < 200; i++) {
    const user = await store.users.create({ username: `hot-${i}-${randomUUID()}` }, randomUUID(), T0);
    const method = await store.methods.add(
      { userId: user.id, type: 'totp', label: 't', secret: randomBytes(20), config: { algorithm: 'SHA1', digits: 6, period: 30, serial: null, origin: 'software' } },
      randomUUID(),
      T0,
    );
    users.push({ user, method });
  }
  // Up to 2000 sequences or 3 seconds, whichever comes first.
  let iterations = 0;
  const start = performance.now();
  for (let i = 0; i < 2000 && performance.now() - start < 3000; i++, iterations++) {
    const { user } = users[i % users.length]!;
    const found = (await store.users.getByUsername(user.username))!;
    const [method] = await store.methods.listForUser(found.id);
    await store.methods.consumeStep(method!.id, 1000 + i, 0, T0 + i);
    const id = randomUUID();
    await store.authentications.create({
      id, userId: found.id, username: found.username, applicationId: 'app', applicationName: 'VPN', clientIp: '192.0.2.1',
      state: 'approved', reason: 'passcode_ok', methodId: method!.id, methodType: 'totp', createdAt: T0 + i, updatedAt: T0 + i, expiresAt: T0 + i,
    });
    await store.audit.append({
      at: T0 + i, kind: 'authentication', action: 'authenticate', result: 'approved', reason: 'passcode_ok', username: found.username, userId: found.id,
      displayName: null, email: null, phone: null, device: null, method: 'totp', mode: null, application: 'VPN', serverName: 'n1', clientIp: '192.0.2.1',
      actor: null, authenticationId: id, details: null,
    });
  }
  const perSecond = iterations / ((performance.now() - start) / 1000);
  rows.push({ operation: 'hot path (lookup, methods, consumeStep, auth row, audit row), sequential', 'median ms': (1000 / perSecond).toFixed(3), note: `${Math.round(perSecond)}/s` });
  console.log(`\n${name}, ${USERS} users`);
  console.table(rows);
}

describe('SQLite with 200,000 users', () => {
  const dir = tempDirHooks('countersign-scale-');
  let file: string;
  let store: Store;
  let raw: Database.Database;
  const compiler = compilerFor('sqlite');

  beforeAll(async () => {
    file = dir.path('scale.db');
    await (await openStore({ url: `sqlite:${file}`, keyring })).close();
    const fill = new Database(file);
    fill.exec(SQLITE_FILL);
    fill.exec(SQLITE_FILL_METHODS);
    fill.exec('ANALYZE');
    fill.close();
    store = await openStore({ url: `sqlite:${file}`, keyring });
    raw = new Database(file, { readonly: true });
  }, 120_000);
  afterAll(async () => {
    raw?.close();
    await store?.close();
  });

  const plan = (query: { sql: string; parameters: readonly unknown[] }): string[] =>
    (raw.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...query.parameters) as Array<{ detail: string }>).map((r) => r.detail);

  it('pages users through an index, never sorting or scanning the table', () => {
    for (const [label, query] of LIST_CASES) {
      const steps = plan(userListQuery(compiler, query).compile());
      expect(steps.join(' | '), label).not.toMatch(/TEMP B-TREE/);
      expect(steps.join(' | '), label).toMatch(/USING INDEX/);
      expect(steps.some((s) => /^SCAN users$/.test(s)), label).toBe(false);
    }
    expect(plan(userListQuery(compiler, { limit: 50, status: 'blocked' }).compile()).join()).toMatch(/users_blocked_idx/);
    expect(plan(userListQuery(compiler, { limit: 50, status: 'locked' }).compile()).join()).toMatch(/users_locked_idx/);
    expect(plan(userListQuery(compiler, { limit: 50, status: 'disabled' }).compile()).join()).toMatch(/users_disabled_idx/);
  });

  it('counts users by state from the partial index of each state', async () => {
    const q = userStateQueries(compiler);
    expect(plan(q.disabled.compile()).join(' | ')).toMatch(/USING (COVERING )?INDEX users_disabled_idx/);
    expect(plan(q.blocked.compile()).join(' | ')).toMatch(/USING INDEX users_blocked_idx/);
    expect(plan(q.locked.compile()).join(' | ')).toMatch(/USING INDEX users_locked_idx/);
    expect(plan(q.total.compile()).join(' | ')).toMatch(/USING COVERING INDEX/);
    expect(await store.reports.userStates()).toEqual({ total: USERS, enabled: USERS - 800, disabled: 200, blocked: 400, locked: 200 });
  });

  it('looks users up by name and methods by user through indexes', () => {
    expect(plan(compiler.selectFrom('users').selectAll().where('username_lc', '=', 'user000001').compile()).join()).toMatch(/SEARCH users USING INDEX .*username_lc=/);
    const methods = plan(methodsForUserQuery(compiler, 'id-1').compile()).join(' | ');
    expect(methods).toMatch(/SEARCH methods USING INDEX methods_user_id_idx/);
    expect(methods).not.toMatch(/TEMP B-TREE/);
  });

  it('returns correct pages and counts at this size', async () => {
    expect(await store.users.count()).toBe(USERS);
    const blocked = await store.users.list({ limit: 1000, status: 'blocked' });
    expect(blocked.items).toHaveLength(400);
    expect(blocked.next).toBeNull();
    const locked = await store.users.list({ limit: 150, status: 'locked' });
    expect(locked.items.every((u) => u.lockedAt !== null && u.blockedAt === null && u.status === 'enabled')).toBe(true);
    expect(locked.next).toBe(locked.items[149]?.username.toLowerCase());
    const deep = await store.users.list({ limit: 3, after: 'user199997' });
    expect(deep.items.map((u) => u.username)).toEqual(['User199998', 'User199999']);
    expect(deep.next).toBeNull();
    expect((await store.users.list({ limit: 5, search: 'MAIL199999@example' })).items.map((u) => u.username)).toEqual(['User199999']);
  });

  it('reports timings', async () => {
    await measure('SQLite', store);
  }, 120_000);
});

const postgres = await probePostgres();
describe.skipIf(!postgres.ok)('PostgreSQL with 200,000 users', () => {
  const temp = tempDatabaseHooks();
  let store: Store;
  let client: pg.Client;
  const compiler = compilerFor('postgres');

  beforeAll(async () => {
    store = await openStore({ url: temp.url(), keyring });
    client = new pg.Client({ connectionString: temp.url() });
    await client.connect();
    await client.query(PG_FILL);
    await client.query(PG_FILL_METHODS);
    await client.query('ANALYZE');
  }, 120_000);
  afterAll(async () => {
    await client?.end();
    await store?.close();
  });

  const plan = async (query: { sql: string; parameters: readonly unknown[] }): Promise<string> =>
    (await client.query(`EXPLAIN ${query.sql}`, query.parameters as unknown[])).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');

  it('pages users through an index, never sorting or scanning the table', async () => {
    for (const [label, query] of LIST_CASES) {
      const text = await plan(userListQuery(compiler, query).compile());
      expect(text, label).not.toMatch(/Sort|Seq Scan/);
      expect(text, label).toMatch(/Index Scan/);
    }
    expect(await plan(userListQuery(compiler, { limit: 50, status: 'blocked' }).compile())).toMatch(/users_blocked_idx/);
    expect(await plan(userListQuery(compiler, { limit: 50, status: 'locked' }).compile())).toMatch(/users_locked_idx/);
    expect(await plan(userListQuery(compiler, { limit: 50, status: 'disabled' }).compile())).toMatch(/users_disabled_idx/);
  });

  it('counts users by state from the partial index of each state', async () => {
    const q = userStateQueries(compiler);
    expect(await plan(q.disabled.compile())).toMatch(/users_disabled_idx/);
    expect(await plan(q.blocked.compile())).toMatch(/users_blocked_idx/);
    expect(await plan(q.locked.compile())).toMatch(/users_locked_idx/);
    expect(await store.reports.userStates()).toEqual({ total: USERS, enabled: USERS - 800, disabled: 200, blocked: 400, locked: 200 });
  });

  it('looks users up by name and methods by user through indexes', async () => {
    expect(await plan(compiler.selectFrom('users').selectAll().where('username_lc', '=', 'user000001').compile())).toMatch(/Index Scan using users_username_lc_key/);
    const methods = await plan(methodsForUserQuery(compiler, 'id-1').compile());
    expect(methods).toMatch(/Index Scan using methods_user_id_idx|Bitmap Index Scan on methods_user_id_idx/);
    expect(methods).not.toMatch(/Seq Scan|Sort/);
  });

  it('returns correct pages and counts at this size', async () => {
    expect(await store.users.count()).toBe(USERS);
    const blocked = await store.users.list({ limit: 1000, status: 'blocked' });
    expect(blocked.items).toHaveLength(400);
    expect(blocked.next).toBeNull();
    const deep = await store.users.list({ limit: 3, after: 'user199997' });
    expect(deep.items.map((u) => u.username)).toEqual(['User199998', 'User199999']);
    expect((await store.users.list({ limit: 5, search: 'MAIL199999@example' })).items.map((u) => u.username)).toEqual(['User199999']);
  });

  it('reports timings', async () => {
    await measure('PostgreSQL', store);
  }, 120_000);
});
