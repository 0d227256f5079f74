/**
 * Dashboard: sign-ins over time by result, by method and by application; users by state; recent
 * failures; "not me" fraud reports; the server's status.
 */
import { lazy, Suspense, useMemo, useState, type ReactNode } from 'react';
import { api, query } from './api.ts';
import type { ChartPoint } from './chart.tsx';
import { formatNumber, formatRelative, plural, toMillis } from './format.ts';
import { href } from './router.ts';
import type { AuditEvent, SignInReport, Summary } from './types.ts';
import { ErrorNote, Loading, PageTitle, ResultBadge, Section, Time, useLoad, ScrollBox } from './ui.tsx';

const SignInChart = lazy(() => import('./chart.tsx'));

type Range = '24h' | '30d';
const HOUR = 3_600_000;
const DAY = 86_400_000;
const RANGES: Readonly<Record<Range, { label: string; bucket: 'hour' | 'day'; span: number; step: number }>> = {
  '24h': { label: 'Last 24 hours', bucket: 'hour', span: 24 * HOUR, step: HOUR },
  '30d': { label: 'Last 30 days', bucket: 'day', span: 30 * DAY, step: DAY },
};

/** Every bucket of the range, zero where the server reported nothing, aligned like the server's buckets. */
export function fillBuckets(series: SignInReport['series'], from: number, to: number, step: number): ChartPoint[] {
  const known = new Map(series.map((p) => [toMillis(p.at), p]));
  const first = series.length > 0 ? toMillis(series[0]?.at ?? from) : 0;
  const phase = ((first % step) + step) % step;
  const start = from - ((((from - phase) % step) + step) % step);
  const points: ChartPoint[] = [];
  for (let t = start; t < to; t += step) {
    const p = known.get(t);
    points.push({ at: t, approved: p?.approved ?? 0, denied: p?.denied ?? 0, expired: p?.expired ?? 0 });
  }
  // Anything the server reported off the grid still counts.
  for (const [t, p] of known) if ((t - phase) % step !== 0) points.push({ at: t, approved: p.approved, denied: p.denied, expired: p.expired });
  return points.sort((a, b) => a.at - b.at);
}

export function Dashboard(): ReactNode {
  const summary = useLoad((signal) => api<Summary>('/reports/summary', { signal }), []);
  return (
    <>
      <PageTitle>Dashboard</PageTitle>
      <ErrorNote error={summary.error} />
      {summary.data ? <UserCounts users={summary.data.users} /> : summary.loading ? <Loading /> : null}
      {summary.data && summary.data.fraudReports.length > 0 ? <FraudReports events={summary.data.fraudReports} /> : null}
      <SignIns />
      <div className="grid-2">
        {summary.data ? <RecentFailures events={summary.data.recentFailures} /> : null}
        {summary.data ? <ServerStatus server={summary.data.server} /> : null}
      </div>
    </>
  );
}

function UserCounts({ users }: { users: Summary['users'] }): ReactNode {
  const cards: [string, number, string, string][] = [
    ['Users', users.total, href('users'), 'neutral'],
    ['Locked', users.locked, '#/users?state=locked', users.locked > 0 ? 'warn' : 'neutral'],
    ['Blocked', users.blocked, '#/users?state=blocked', users.blocked > 0 ? 'bad' : 'neutral'],
    ['Disabled', users.disabled, '#/users?state=disabled', 'neutral'],
  ];
  return (
    <section aria-label="Users by state" className="stats">
      {cards.map(([label, n, link, tone]) => (
        <a key={label} className={`stat stat-${tone}`} href={link}>
          <span className="stat-value">{formatNumber(n)}</span>
          <span className="stat-label">{label}</span>
        </a>
      ))}
    </section>
  );
}

function FraudReports({ events }: { events: readonly AuditEvent[] }): ReactNode {
  return (
    <section className="card fraud" aria-labelledby="fraud-title">
      <div className="card-head">
        <h2 id="fraud-title">
          <span aria-hidden="true">⚠ </span>
          {plural(events.length, '“not me” report')}
        </h2>
      </div>
      <p>These users reported a sign-in they did not make. Check the account and unblock it when it is safe.</p>
      <ul className="fraud-list">
        {events.map((e) => (
          <li key={e.id}>
            {e.username ? <a href={href('users', e.username)}>{e.username}</a> : 'unknown user'} · <Time at={e.at} />
            {e.application ? <> · {e.application}</> : null}
            {e.clientIp ? <> · from {e.clientIp}</> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

function SignIns(): ReactNode {
  const [range, setRange] = useState<Range>('24h');
  const spec = RANGES[range];
  const period = useMemo(() => {
    const to = Date.now();
    return { from: to - spec.span, to };
  }, [spec.span]);
  const report = useLoad(
    (signal) =>
      api<SignInReport>(
        `/reports/sign-ins${query({ from: new Date(period.from).toISOString(), to: new Date(period.to).toISOString(), bucket: spec.bucket })}`,
        { signal },
      ),
    [period, spec.bucket],
  );
  const points = useMemo(() => (report.data ? fillBuckets(report.data.series, period.from, period.to, spec.step) : []), [report.data, period, spec.step]);
  const totals = points.reduce((t, p) => ({ approved: t.approved + p.approved, denied: t.denied + p.denied, expired: t.expired + p.expired }), {
    approved: 0,
    denied: 0,
    expired: 0,
  });
  const summaryText = `${spec.label}: ${formatNumber(totals.approved)} approved, ${formatNumber(totals.denied)} denied, ${formatNumber(totals.expired)} expired.`;

  return (
    <>
      <Section
        title="Sign-ins"
        actions={
          <div className="segmented" role="group" aria-label="Period">
            {(Object.keys(RANGES) as Range[]).map((r) => (
              <button key={r} type="button" aria-pressed={range === r} onClick={() => setRange(r)}>
                {RANGES[r].label}
              </button>
            ))}
          </div>
        }
      >
        <ErrorNote error={report.error} />
        <p className="totals" aria-live="polite">
          <span className="dot approved" aria-hidden="true" /> {formatNumber(totals.approved)} approved <span className="dot denied" aria-hidden="true" />{' '}
          {formatNumber(totals.denied)} denied <span className="dot expired" aria-hidden="true" /> {formatNumber(totals.expired)} expired
          <span className="subtle"> · {spec.label.toLowerCase()}</span>
        </p>
        {report.data ? (
          <Suspense fallback={<div className="chart" />}>
            <SignInChart points={points} bucket={spec.bucket} label={`Chart of sign-ins by result. ${summaryText}`} />
          </Suspense>
        ) : (
          <div className="chart">{report.loading ? <Loading /> : null}</div>
        )}
        <details className="data-table">
          <summary>Show the numbers</summary>
          <ScrollBox label="Sign-ins by period">
            <table>
              <caption className="visually-hidden">Sign-ins by {spec.bucket}</caption>
              <thead>
                <tr>
                  <th scope="col">{spec.bucket === 'hour' ? 'Hour' : 'Day'}</th>
                  <th scope="col" className="num">
                    Approved
                  </th>
                  <th scope="col" className="num">
                    Denied
                  </th>
                  <th scope="col" className="num">
                    Expired
                  </th>
                </tr>
              </thead>
              <tbody>
                {points.map((p) => (
                  <tr key={p.at}>
                    <td>
                      <Time at={p.at} />
                    </td>
                    <td className="num">{formatNumber(p.approved)}</td>
                    <td className="num">{formatNumber(p.denied)}</td>
                    <td className="num">{formatNumber(p.expired)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </ScrollBox>
        </details>
      </Section>
      {report.data ? (
        <div className="grid-2">
          <Breakdown
            title="By method"
            rows={report.data.byMethod.map((r) => ({ name: r.method ?? 'none', approved: r.approved, denied: r.denied }))}
            what="Method"
          />
          <Breakdown
            title="By application"
            rows={report.data.byApplication.map((r) => ({ name: r.application ?? 'none', approved: r.approved, denied: r.denied }))}
            what="Application"
          />
        </div>
      ) : null}
    </>
  );
}

function Breakdown({ title, rows, what }: { title: string; rows: { name: string; approved: number; denied: number }[]; what: string }): ReactNode {
  const max = Math.max(1, ...rows.map((r) => r.approved + r.denied));
  const sorted = [...rows].sort((a, b) => b.approved + b.denied - (a.approved + a.denied));
  return (
    <Section title={title}>
      {sorted.length === 0 ? (
        <p className="subtle">No sign-ins in this period.</p>
      ) : (
        <table className="bars">
          <thead>
            <tr>
              <th scope="col">{what}</th>
              <th scope="col" className="num">
                Approved
              </th>
              <th scope="col" className="num">
                Denied
              </th>
              <th scope="col" className="bar-col">
                <span className="visually-hidden">Share</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {sorted.map((r) => (
              <tr key={r.name}>
                <th scope="row">{r.name}</th>
                <td className="num">{formatNumber(r.approved)}</td>
                <td className="num">{formatNumber(r.denied)}</td>
                <td className="bar-col" aria-hidden="true">
                  <span className="bar">
                    <span className="bar-approved" style={{ width: `${(r.approved / max) * 100}%` }} />
                    <span className="bar-denied" style={{ width: `${(r.denied / max) * 100}%` }} />
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}

function RecentFailures({ events }: { events: readonly AuditEvent[] }): ReactNode {
  return (
    <Section title="Recent failures" actions={<a href="#/reports?result=denied">All failures</a>}>
      {events.length === 0 ? (
        <p className="subtle">No failed sign-ins recently.</p>
      ) : (
        <ScrollBox label="Recent failures">
          <table className="events">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">User</th>
                <th scope="col">Application</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.id}>
                  <td>
                    <Time at={e.at} />
                  </td>
                  <td>{e.username ? <a href={href('users', e.username)}>{e.username}</a> : '—'}</td>
                  <td>{e.application ?? '—'}</td>
                  <td>{e.reason ? <code>{e.reason}</code> : <ResultBadge result={e.result} />}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollBox>
      )}
    </Section>
  );
}

function ServerStatus({ server }: { server: Summary['server'] }): ReactNode {
  const started = toMillis(server.startedAt);
  return (
    <Section title="Server">
      <dl className="facts">
        <div>
          <dt>Name</dt>
          <dd>{server.serverName}</dd>
        </div>
        <div>
          <dt>Version</dt>
          <dd>{server.version}</dd>
        </div>
        <div>
          <dt>Running since</dt>
          <dd>
            <Time at={started} /> <span className="subtle">(started {formatRelative(started)})</span>
          </dd>
        </div>
        <div>
          <dt>Database</dt>
          <dd>{server.store}</dd>
        </div>
        <div>
          <dt>Status</dt>
          <dd>
            <span className="badge tone-good">Running</span>
          </dd>
        </div>
      </dl>
    </Section>
  );
}
