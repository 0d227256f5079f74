/**
 * Dashboard aggregates (see ReportStore in the core's ports). The database does the counting:
 * sign-ins are grouped with GROUP BY over the `at` index, users by state are counted from the
 * partial index of each state (a state's count costs what its users cost, never a scan of all).
 */
import { sql } from 'kysely';
import type { Expression, Kysely, RawBuilder, SqlBool } from 'kysely';
import { CoreError } from '../core/errors.ts';
import type { ReportStore } from '../core/ports.ts';
import type { StoreContext } from './context.ts';
import type { Database } from './schema.ts';

/** Results that end an authentication; `challenge` is a step, not a decision. */
const FINAL = ['approved', 'denied', 'expired'] as const;

/** SUM of the rows whose result is `result`, as a number-like (bigint on PostgreSQL). */
const countOf = (result: (typeof FINAL)[number]): RawBuilder<number | string> => sql<number | string>`sum(case when result = ${sql.lit(result)} then 1 else 0 end)`;

/** The WHERE of each non-enabled state, spelled as in the partial indexes' own WHERE so the planners pick them. */
const STATE: Record<'disabled' | 'blocked' | 'locked', Expression<SqlBool>> = {
  disabled: sql<SqlBool>`status = 'disabled'`,
  blocked: sql<SqlBool>`blocked_at IS NOT NULL AND status <> 'disabled'`,
  locked: sql<SqlBool>`locked_at IS NOT NULL AND blocked_at IS NULL AND status <> 'disabled'`,
};

/**
 * The four counts behind userStates: every user, then each non-enabled state. Exported for the
 * query-plan checks in test/store/scale.test.ts.
 */
export function userStateQueries(db: Kysely<Database>) {
  const countWhere = (where: Expression<SqlBool> | null) => {
    const q = db.selectFrom('users').select((eb) => eb.fn.countAll<number | string>().as('n'));
    return where === null ? q : q.where(where);
  };
  return { total: countWhere(null), disabled: countWhere(STATE.disabled), blocked: countWhere(STATE.blocked), locked: countWhere(STATE.locked) };
}

export function createReportStore({ db }: StoreContext): ReportStore {
  const finalResults = (from: number, to: number) =>
    db
      .selectFrom('audit_events')
      .where('at', '>=', from)
      .where('at', '<', to)
      .where('kind', '=', 'authentication')
      .where('action', '=', 'authenticate')
      .where('result', 'in', FINAL);

  const states = userStateQueries(db);
  const run = async (q: (typeof states)['total']): Promise<number> => Number((await q.executeTakeFirstOrThrow()).n);

  return {
    async signIns({ from, to, bucketMs }) {
      if (!Number.isSafeInteger(bucketMs) || bucketMs < 1) throw new CoreError('validation_failed', 'bucket must be a positive whole number of milliseconds');
      // The bucket size is a validated integer written into the SQL: the same text in SELECT and
      // GROUP BY, which PostgreSQL needs to see them as one expression.
      const bucket = sql<number | string>`at - (at % ${sql.lit(bucketMs)})`;
      const [series, byMethod, byApplication] = await Promise.all([
        finalResults(from, to)
          .select([bucket.as('bucket'), countOf('approved').as('approved'), countOf('denied').as('denied'), countOf('expired').as('expired')])
          .groupBy(bucket)
          .orderBy(bucket)
          .execute(),
        finalResults(from, to)
          .select([sql<string>`coalesce(method, 'none')`.as('method'), countOf('approved').as('approved'), countOf('denied').as('denied')])
          .groupBy(sql`coalesce(method, 'none')`)
          .orderBy('method')
          .execute(),
        finalResults(from, to)
          .select([sql<string>`coalesce(application, 'none')`.as('application'), countOf('approved').as('approved'), countOf('denied').as('denied')])
          .groupBy(sql`coalesce(application, 'none')`)
          .orderBy('application')
          .execute(),
      ]);
      return {
        series: series.map((r) => ({ at: Number(r.bucket), approved: Number(r.approved), denied: Number(r.denied), expired: Number(r.expired) })),
        // Expired-only groups have nothing to show in these two.
        byMethod: byMethod.map((r) => ({ method: r.method, approved: Number(r.approved), denied: Number(r.denied) })).filter((r) => r.approved + r.denied > 0),
        byApplication: byApplication
          .map((r) => ({ application: r.application, approved: Number(r.approved), denied: Number(r.denied) }))
          .filter((r) => r.approved + r.denied > 0),
      };
    },

    async userStates() {
      const [total, disabled, blocked, locked] = await Promise.all([run(states.total), run(states.disabled), run(states.blocked), run(states.locked)]);
      return { total, enabled: total - disabled - blocked - locked, locked, blocked, disabled };
    },
  };
}
