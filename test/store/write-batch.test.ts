import { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareQuery } from '../../src/store/prepared.ts';
import { sqliteDialect } from '../../src/store/sqlite.ts';
import { createWriteBatcher } from '../../src/store/write-batch.ts';
import { createTestCore, type TestCore } from '../support/harness.ts';
import { auditEvent } from './conformance.ts';

let t: TestCore | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const event = (i: number) => auditEvent({ at: 1_000 + i, kind: 'admin', action: 'test.write', result: 'success', username: `u${i}` });

describe('group commit', () => {
  it('commits many concurrent writes, each acknowledged with its own result, in arrival order', async () => {
    t = await createTestCore();
    const ids = await Promise.all(Array.from({ length: 300 }, (_, i) => t!.store.audit.append(event(i))));
    expect(new Set(ids).size).toBe(300);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    const stored = await t.store.audit.query({ action: 'test.write', limit: 1000 });
    expect(stored).toHaveLength(300);
  });

  it('isolates a failing write: the others in the same batch still commit', async () => {
    t = await createTestCore();
    const user = await t.store.users.create({ username: 'present' }, 'u-present', 1);
    const good = t.store.audit.append(event(1));
    // A foreign-key violation inside the shared transaction aborts it; each write is then retried alone.
    const bad = t.store.authentications.create({
      id: 'a-orphan',
      userId: 'no-such-user',
      username: 'ghost',
      applicationId: 'app',
      applicationName: 'default',
      clientIp: null,
      state: 'approved',
      reason: 'passcode_ok',
      methodId: null,
      methodType: null,
      createdAt: 2,
      updatedAt: 2,
      expiresAt: 3,
    });
    const alsoGood = t.store.users.recordFailure(user.id, 3, 3);
    await expect(bad).rejects.toMatchObject({ code: 'user_not_found' });
    expect(await good).toBeGreaterThan(0);
    expect(await alsoGood).toEqual({ failedCount: 1, lockedAt: null });
  });

  it('finishes queued writes before the store closes', async () => {
    t = await createTestCore();
    const { store } = t;
    const pending = Array.from({ length: 50 }, (_, i) => store.audit.append(event(i)));
    const closing = store.close();
    await expect(Promise.all(pending)).resolves.toHaveLength(50);
    await closing;
    t = undefined;
  });
});

describe('group commit on the SQLite connection (prepared queries)', () => {
  interface Db {
    things: { id: string; n: number };
  }
  async function open() {
    const dialect = sqliteDialect(':memory:');
    const db = new Kysely<Db>({ dialect });
    await db.schema.createTable('things').addColumn('id', 'text', (c) => c.primaryKey()).addColumn('n', 'integer', (c) => c.notNull()).execute();
    const insert = prepareQuery((a: { id: string; n: number }) => db.insertInto('things').values({ id: a.id, n: a.n }));
    const bump = prepareQuery((a: { id: string; from: number }) => db.updateTable('things').set((eb) => ({ n: eb('n', '+', 1) })).where('id', '=', a.id).where('n', '=', a.from));
    const find = prepareQuery((a: { id: string }) => db.selectFrom('things').selectAll().where('id', '=', a.id));
    const writes = createWriteBatcher(db as never, dialect.lane);
    return { db, lane: dialect.lane, writes, insert, bump, find };
  }

  it('gives each write its own result; a compare-and-set is won once; a failing write fails alone', async () => {
    const { db, lane, writes, insert, bump, find } = await open();
    await writes.runPrepared(insert, { id: 'a', n: 0 });
    const results = await Promise.all([
      ...Array.from({ length: 5 }, () => writes.runPrepared(bump, { id: 'a', from: 0 })),
      writes.runPrepared(insert, { id: 'b', n: 1 }),
      writes.runPrepared(insert, { id: 'a', n: 9 }).then(
        () => 'inserted',
        (e: Error) => e.message,
      ),
    ]);
    expect(results.slice(0, 5).map((r) => Number((r as { numAffectedRows?: bigint }).numAffectedRows))).toEqual([1, 0, 0, 0, 0]);
    expect(results[6]).toMatch(/UNIQUE/);
    expect((await find.run(db, lane, { id: 'a' })).rows).toEqual([{ id: 'a', n: 1 }]);
    expect((await find.run(db, lane, { id: 'b' })).rows).toEqual([{ id: 'b', n: 1 }]);
    await db.destroy();
  });

  it('waits for an open Kysely transaction, and reads do not see its uncommitted rows', async () => {
    const { db, lane, writes, insert, find } = await open();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const order: string[] = [];
    const trx = db.transaction().execute(async (t) => {
      await t.insertInto('things').values({ id: 'in-trx', n: 1 }).execute();
      entered();
      await held;
      order.push('trx commits');
    });
    await inside;
    expect(lane.inTransaction).toBe(true);
    const write = writes.runPrepared(insert, { id: 'batched', n: 2 }).then(() => order.push('batch written'));
    const read = find.run(db, lane, { id: 'in-trx' }).then((r) => {
      order.push('read');
      return r.rows;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    release();
    await Promise.all([trx, write]);
    // Kysely's own order: the read queued behind the transaction sees it committed.
    expect(await read).toEqual([{ id: 'in-trx', n: 1 }]);
    expect(order[0]).toBe('trx commits');
    expect((await find.run(db, lane, { id: 'batched' })).rows).toEqual([{ id: 'batched', n: 2 }]);
    await db.destroy();
  });
});
