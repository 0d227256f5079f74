import fc from 'fast-check';
import { Kysely, sql } from 'kysely';
import type { Compilable, Dialect } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresDialect } from '../../src/store/postgres.ts';
import { prepareQuery } from '../../src/store/prepared.ts';
import { sqliteDialect } from '../../src/store/sqlite.ts';
import { probePostgres, tempDatabaseHooks } from './pg.ts';

interface Things {
  things: { id: string; a: string | null; b: number; c: string | null; d: number; e: number | null };
}

interface Row {
  readonly id: string;
  readonly a: string | null;
  readonly b: number;
  readonly c: string | null;
  readonly d: number;
  readonly e: number | null;
}

const text = fc.option(fc.string({ maxLength: 20 }), { nil: null });
const int = fc.integer({ min: -1_000_000, max: 1_000_000 });
const rowArb = fc.record({ id: fc.uuid(), a: text, b: int, c: text, d: int, e: fc.option(int, { nil: null }) });

function queries(db: Kysely<Things>) {
  const insert = (r: Row) => db.insertInto('things').values({ id: r.id, a: r.a, b: r.b, c: r.c, d: r.d, e: r.e });
  // `step` twice, constants before, between and after the arguments, and a raw SQL fragment.
  const bump = (x: { id: string; step: number; now: number }) =>
    db
      .updateTable('things')
      .set((eb) => ({ b: eb('b', '+', 7), d: x.step, e: sql<number>`CASE WHEN ${x.step} > 100 THEN ${x.now} ELSE 5 END` }))
      .where('id', '=', x.id)
      .where((eb) => eb.or([eb('e', 'is', null), eb('d', '<', x.step)]))
      .returning(['b', 'd', 'e']);
  const find = (x: { id: string; minB: number }) =>
    db.selectFrom('things').selectAll().where('id', '=', x.id).where('b', '>=', x.minB).where('a', 'is not', null);
  return { insert, bump, find };
}

function expectSameAsBuilder<A extends object>(build: (args: A) => Compilable<unknown>, args: A): void {
  const built = build(args).compile();
  const prepared = prepareQuery(build).compile(args);
  expect(prepared.sql).toBe(built.sql);
  expect(prepared.parameters).toEqual(built.parameters);
  expect(prepared.query.kind).toBe(built.query.kind);
}

function describeDialect(name: string, dialect: () => Dialect, createTable: string): void {
  describe(`prepared queries: ${name}`, () => {
    let db: Kysely<Things>;
    beforeAll(async () => {
      db = new Kysely<Things>({ dialect: dialect() });
      await sql.raw(createTable).execute(db);
    });
    afterAll(async () => {
      await db.destroy();
    });

    it('compiles to the same SQL and parameters as the builder, for any arguments', () => {
      const q = queries(db);
      fc.assert(
        fc.property(rowArb, int, int, (row, step, now) => {
          expectSameAsBuilder(q.insert, row);
          expectSameAsBuilder(q.bump, { id: row.id, step, now });
          expectSameAsBuilder(q.find, { id: row.id, minB: step });
        }),
      );
    });

    it('binds each argument to its own column on insert, and reads them back', async () => {
      const insert = prepareQuery(queries(db).insert);
      const find = prepareQuery(queries(db).find);
      const rows = [
        { id: 'r1', a: 'alpha', b: 11, c: 'gamma', d: 13, e: 17 },
        { id: 'r2', a: 'beta', b: -2, c: null, d: 0, e: null },
      ];
      for (const r of rows) await insert.execute(db, r);
      expect((await find.execute(db, { id: 'r1', minB: 0 })).rows).toEqual([rows[0]]);
      expect((await find.execute(db, { id: 'r2', minB: -5 })).rows).toEqual([rows[1]]);
      // Every where clause still applies: b >= minB, and a is not null.
      expect((await find.execute(db, { id: 'r1', minB: 12 })).rows).toEqual([]);
      await insert.execute(db, { id: 'r3', a: null, b: 1, c: 'x', d: 1, e: 1 });
      expect((await find.execute(db, { id: 'r3', minB: 0 })).rows).toEqual([]);
    });

    it('fills an argument used twice and keeps the constants in place', async () => {
      const insert = prepareQuery(queries(db).insert);
      const bump = prepareQuery(queries(db).bump);
      await insert.execute(db, { id: 'u1', a: 'x', b: 100, c: null, d: 50, e: 1 });
      // d < step, so the row changes: b + 7, d = step, e = now (step > 100).
      expect((await bump.execute(db, { id: 'u1', step: 150, now: 999 })).rows).toEqual([{ b: 107, d: 150, e: 999 }]);
      // d (150) is not < 120 and e is not null: nothing changes.
      const unchanged = await bump.execute(db, { id: 'u1', step: 120, now: 1 });
      expect(unchanged.rows).toEqual([]);
      // Another row is left alone; step <= 100 takes the ELSE branch.
      await insert.execute(db, { id: 'u2', a: 'y', b: 0, c: null, d: 0, e: null });
      expect((await bump.execute(db, { id: 'u2', step: 3, now: 2 })).rows).toEqual([{ b: 7, d: 3, e: 5 }]);
      const find = prepareQuery(queries(db).find);
      expect((await find.execute(db, { id: 'u1', minB: 0 })).rows).toEqual([{ id: 'u1', a: 'x', b: 107, c: null, d: 150, e: 999 }]);
    });

    it('reports affected rows for statements without RETURNING', async () => {
      const insert = prepareQuery(queries(db).insert);
      await insert.execute(db, { id: 'n1', a: 'x', b: 0, c: null, d: 0, e: null });
      const touch = prepareQuery((x: { id: string; d: number }) => db.updateTable('things').set({ d: x.d }).where('id', '=', x.id));
      expect((await touch.execute(db, { id: 'n1', d: 4 })).numAffectedRows).toBe(1n);
      expect((await touch.execute(db, { id: 'missing', d: 4 })).numAffectedRows).toBe(0n);
    });

    it('runs on the transaction it is given', async () => {
      const insert = prepareQuery(queries(db).insert);
      const find = prepareQuery(queries(db).find);
      await expect(
        db.transaction().execute(async (trx) => {
          await insert.execute(trx, { id: 't1', a: 'x', b: 0, c: null, d: 0, e: null });
          expect((await find.execute(trx, { id: 't1', minB: 0 })).rows).toHaveLength(1);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect((await find.execute(db, { id: 't1', minB: 0 })).rows).toEqual([]);
    });

    it('binds an undefined argument as NULL', async () => {
      const insert = prepareQuery(queries(db).insert);
      const find = prepareQuery(queries(db).find);
      await insert.execute(db, { id: 'v1', a: 'x', b: 0, c: undefined as unknown as null, d: 0, e: null });
      expect((await find.execute(db, { id: 'v1', minB: 0 })).rows).toEqual([{ id: 'v1', a: 'x', b: 0, c: null, d: 0, e: null }]);
    });

    it('refuses an argument that does not reach the SQL as a bound parameter', () => {
      expect(() => prepareQuery((x: { column: string }) => db.selectFrom('things').select(sql.raw(String(x.column)).as('v')))).toThrow(
        /argument "column" is not a bound parameter/,
      );
    });
  });
}

describeDialect(
  'sqlite',
  () => sqliteDialect(':memory:'),
  'CREATE TABLE things (id TEXT PRIMARY KEY, a TEXT, b INTEGER NOT NULL, c TEXT, d INTEGER NOT NULL, e INTEGER)',
);

const pg = await probePostgres();
if (pg.ok) {
  describe('postgres', () => {
    const temp = tempDatabaseHooks();
    describeDialect(
      'postgres',
      () => postgresDialect(temp.url(), 2),
      'CREATE TABLE things (id text PRIMARY KEY, a text, b bigint NOT NULL, c text, d bigint NOT NULL, e bigint)',
    );
  });
} else {
  describe.skip(`prepared queries: postgres (${pg.reason})`, () => {
    it('needs PostgreSQL', () => undefined);
  });
}
