/**
 * The console's dashboard: sign-ins over time and a summary of users, recent failures, fraud
 * reports and this server. The store aggregates; this service checks the range and fills empty
 * buckets so a chart gets one point per bucket.
 */
import pkg from '../../../package.json' with { type: 'json' };
import type { DashboardSummary, ReportBucket, SignInReport } from '../api.ts';
import { invalid } from '../validation.ts';
import type { Clock, Store } from '../ports.ts';

const BUCKET_MS: Record<ReportBucket, number> = { hour: 3_600_000, day: 86_400_000 };
/** Longest series one request may ask for (400 days of days, about 16 days of hours). */
export const MAX_BUCKETS = 400;
/** Buckets shown when `from` is not given. */
const DEFAULT_BUCKETS = 24;
const LATEST = 10;

export interface ReportsDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly serverName: string;
  /** When this server started (epoch ms). */
  readonly startedAt: number;
}

function time(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(field, 'must be epoch milliseconds (a non-negative integer)');
  return value;
}

export function createReportsService({ store, clock, serverName, startedAt }: ReportsDeps) {
  return {
    async signIns(query: { from?: number; to?: number; bucket?: ReportBucket }): Promise<SignInReport> {
      const bucket = query.bucket ?? 'hour';
      const size = BUCKET_MS[bucket];
      if (size === undefined) throw invalid('bucket', 'must be hour or day');
      const to = query.to === undefined ? clock.now() : time(query.to, 'to');
      const from = query.from === undefined ? Math.max(0, to - DEFAULT_BUCKETS * size) : time(query.from, 'from');
      if (from >= to) throw invalid('from', 'must be before to');
      const first = from - (from % size);
      const buckets = Math.ceil((to - first) / size);
      if (buckets > MAX_BUCKETS) {
        throw invalid('from', `the range holds ${buckets} ${bucket}s; at most ${MAX_BUCKETS} (use a shorter range or bucket=day)`);
      }
      const counts = await store.reports.signIns({ from, to, bucketMs: size });
      const found = new Map(counts.series.map((p) => [p.at, p]));
      const series = Array.from({ length: buckets }, (_, i) => {
        const at = first + i * size;
        const p = found.get(at);
        return { at, approved: p?.approved ?? 0, denied: p?.denied ?? 0, expired: p?.expired ?? 0 };
      });
      return { bucket, series, byMethod: counts.byMethod, byApplication: counts.byApplication };
    },

    async summary(): Promise<DashboardSummary> {
      const [users, recentFailures, fraudReports] = await Promise.all([
        store.reports.userStates(),
        store.audit.query({ kind: 'authentication', action: 'authenticate', result: 'denied', limit: LATEST }),
        store.audit.query({ kind: 'admin', action: 'user.fraud_report', limit: LATEST }),
      ]);
      return {
        users,
        recentFailures,
        fraudReports,
        server: { serverName, version: pkg.version, startedAt, store: store.dialect },
      };
    },
  };
}

export type ReportsService = ReturnType<typeof createReportsService>;
