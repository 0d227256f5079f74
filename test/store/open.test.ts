/** Opening the store: database.url forms, connection settings, migrations, unavailability. */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isCoreError } from '../../src/core/errors.ts';
import { openStore, parseDatabaseUrl } from '../../src/store/index.ts';
import { createKeyFile, keyringFromKeys } from '../../src/store/keyring.ts';
import { createTempDatabase, probePostgres, tempDatabaseHooks } from './pg.ts';
import { tempDirHooks } from './temp-dir.ts';
import { Worker } from './worker-client.ts';

const dir = tempDirHooks('countersign-open-');
const keyring = keyringFromKeys({ k1: new Uint8Array(32).fill(3) }, 'k1', new Uint8Array(32).fill(4));

function codeOf(fn: () => unknown): { code: string | undefined; message: string } {
  try {
    fn();
  } catch (e) {
    return { code: isCoreError(e) ? e.code : undefined, message: (e as Error).message };
  }
  return { code: undefined, message: '' };
}

async function rejection(promise: Promise<unknown>): Promise<{ code: string | undefined; message: string }> {
  try {
    await promise;
  } catch (e) {
    return { code: isCoreError(e) ? e.code : undefined, message: (e as Error).message };
  }
  return { code: undefined, message: '' };
}

describe('database.url', () => {
  it('accepts the documented forms', () => {
    expect(parseDatabaseUrl('sqlite::memory:')).toEqual({ kind: 'sqlite', file: ':memory:' });
    expect(parseDatabaseUrl('sqlite:/var/lib/countersign/db.sqlite')).toEqual({ kind: 'sqlite', file: '/var/lib/countersign/db.sqlite' });
    expect(parseDatabaseUrl('sqlite:./data/countersign.db')).toEqual({ kind: 'sqlite', file: resolve('data/countersign.db') });
    expect(parseDatabaseUrl('postgres://u:p@db.example:5432/cs')).toEqual({ kind: 'postgres', url: 'postgres://u:p@db.example:5432/cs', pool: 10 });
    expect(parseDatabaseUrl('postgresql://u@db/cs?pool=25&sslmode=require')).toEqual({ kind: 'postgres', url: 'postgresql://u@db/cs?sslmode=require', pool: 25 });
  });

  it('refuses anything else with config_invalid naming database.url and the allowed forms, without echoing a password', () => {
    for (const url of ['', 'mysql://u:hunter2@db/cs', 'sqlite:', 'sqlite://db.sqlite', 'file:./x.db', 'postgres://u:hunter2@db/cs?pool=0', 'postgres://u:hunter2@db/cs?pool=abc', 'postgres://u:hunter2@db/cs?pool=100000', 'postgres://u:hunter2@[bad/cs']) {
      const { code, message } = codeOf(() => parseDatabaseUrl(url));
      expect(code, url).toBe('config_invalid');
      expect(message).toContain('database.url');
      expect(message).toContain('sqlite:');
      expect(message).toContain('postgres://');
      expect(message).not.toContain('hunter2');
    }
  });

  it('openStore refuses a bad url the same way', async () => {
    expect((await rejection(openStore({ url: 'redis://localhost', keyring }))).code).toBe('config_invalid');
  });
});

describe('SQLite', () => {
  it('creates missing parent folders and sets WAL mode', async () => {
    const file = dir.path('a', 'b', 'c', 'store.db');
    const store = await openStore({ url: `sqlite:${file}`, keyring });
    expect(existsSync(file)).toBe(true);
    await store.users.create({ username: 'x' }, randomUUID(), 1);
    await store.close();
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
  });

  it('enforces foreign keys and keeps data across openings', async () => {
    const url = `sqlite:${dir.path('fk.db')}`;
    const first = await openStore({ url, keyring });
    const user = await first.users.create({ username: 'keeper' }, randomUUID(), 1);
    await first.close();
    const second = await openStore({ url, keyring });
    expect((await second.users.getByUsername('KEEPER'))?.id).toBe(user.id);
    await expect(second.bypasses.issue({ id: randomUUID(), userId: 'nobody', reason: 'r', createdBy: 'c', createdAt: 1, expiresAt: 2 })).rejects.toMatchObject({ code: 'user_not_found' });
    await second.close();
  });

  it('works in memory', async () => {
    const store = await openStore({ url: 'sqlite::memory:', keyring });
    await store.users.create({ username: 'mem' }, randomUUID(), 1);
    expect(await store.users.count()).toBe(1);
    await store.close();
  });

  it('migrates once when several processes open a new file at the same moment', async () => {
    const folder = dir.path('fresh');
    mkdirSync(folder);
    const keyFile = dir.path('fresh', 'keys.json');
    await createKeyFile(keyFile);
    const url = `sqlite:${dir.path('fresh', 'new.db')}`;
    const workers = Array.from({ length: 4 }, () => new Worker(url, keyFile, { migrate: true }));
    try {
      await Promise.all(workers.map((w) => w.ready));
    } finally {
      await Promise.all(workers.map((w) => w.exit()));
    }
    const raw = new Database(dir.path('fresh', 'new.db'), { readonly: true });
    expect(raw.prepare('select name from kysely_migration').all()).toEqual([{ name: '001_initial' }, { name: '002_directory_sync' }, { name: '003_sessions' }, { name: '004_reports' }, { name: '005_phone_verification' }, { name: '006_reply-attributes' }, { name: '007_phone_methods' }]);
    raw.close();
  });

  it('reports store_unavailable when the file cannot be opened', async () => {
    const blocker = dir.path('not-a-folder');
    writeFileSync(blocker, 'x');
    expect((await rejection(openStore({ url: `sqlite:${blocker}/db.sqlite`, keyring }))).code).toBe('store_unavailable');
    const garbage = dir.path('garbage.db');
    writeFileSync(garbage, 'this is not a database, just text that is long enough to be a header........');
    expect((await rejection(openStore({ url: `sqlite:${garbage}`, keyring }))).code).toBe('store_unavailable');
  });
});

const postgres = await probePostgres();
describe.skipIf(!postgres.ok)(`PostgreSQL${postgres.ok ? '' : ` (${postgres.reason})`}`, () => {
  const temp = tempDatabaseHooks();

  it('migrates once when several processes open a new database at the same moment', async () => {
    const keyFile = dir.path('pg-keys.json');
    await createKeyFile(keyFile);
    const workers = Array.from({ length: 4 }, () => new Worker(temp.url(), keyFile, { migrate: true }));
    try {
      await Promise.all(workers.map((w) => w.ready));
    } finally {
      await Promise.all(workers.map((w) => w.exit()));
    }
    const client = new pg.Client({ connectionString: temp.url() });
    await client.connect();
    try {
      expect((await client.query('select name from kysely_migration')).rows).toEqual([{ name: '001_initial' }, { name: '002_directory_sync' }, { name: '003_sessions' }, { name: '004_reports' }, { name: '005_phone_verification' }, { name: '006_reply-attributes' }, { name: '007_phone_methods' }]);
    } finally {
      await client.end();
    }
  });

  it('reports store_unavailable when the server refuses connections', async () => {
    const { code, message } = await rejection(openStore({ url: 'postgres://postgres:hunter2@127.0.0.1:1/test', keyring }));
    expect(code).toBe('store_unavailable');
    expect(message).not.toContain('hunter2');
  });

  it('reports store_unavailable from operations once the database is gone', async () => {
    const doomed = await createTempDatabase();
    if (!doomed.ok) throw new Error(doomed.reason);
    const store = await openStore({ url: doomed.db.url, keyring });
    await store.users.create({ username: 'soon-gone' }, randomUUID(), 1);
    await doomed.db.drop();
    expect((await rejection(store.users.getByUsername('soon-gone'))).code).toBe('store_unavailable');
    expect((await rejection(store.ping())).code).toBe('store_unavailable');
    await store.close();
  });
});
