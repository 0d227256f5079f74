/**
 * Directories: each configured source, its synchronization (schedule, last and next run), "Synchronize
 * now" with live progress (polled every 2 s while a run is running), and the runs awaiting approval.
 */
import type { ReactNode } from 'react';
import { api, query, seg } from './api.ts';
import { formatNumber, formatSeconds } from './format.ts';
import { href } from './router.ts';
import { useSession } from './session.tsx';
import type { Directory, SyncRun, SyncRunStatus } from './types.ts';
import { ConfirmButton, ErrorNote, Facts, Loading, Notice, PageTitle, Section, Time, useAction, useInterval, useLoad, ScrollBox } from './ui.tsx';

const STATUS: Readonly<Record<SyncRunStatus, { text: string; tone: string }>> = {
  running: { text: 'Running', tone: 'info' },
  completed: { text: 'Completed', tone: 'good' },
  failed: { text: 'Failed', tone: 'bad' },
  interrupted: { text: 'Interrupted', tone: 'warn' },
  awaiting_approval: { text: 'Awaiting approval', tone: 'warn' },
  approved: { text: 'Approved', tone: 'good' },
  rejected: { text: 'Rejected', tone: 'neutral' },
  superseded: { text: 'Superseded', tone: 'neutral' },
};

function RunStatus({ status }: { status: SyncRunStatus }): ReactNode {
  const s = STATUS[status];
  return <span className={`badge tone-${s.tone}`}>{s.text}</span>;
}

function counts(run: SyncRun): string {
  const c = run.counts;
  const parts = [`${formatNumber(c.seen)} read`, `${formatNumber(c.added)} added`, `${formatNumber(c.updated)} updated`];
  if (c.disabled) parts.push(`${formatNumber(c.disabled)} disabled`);
  if (c.enabled) parts.push(`${formatNumber(c.enabled)} enabled`);
  if (c.removed) parts.push(`${formatNumber(c.removed)} removed`);
  if (c.errors) parts.push(`${formatNumber(c.errors)} errors`);
  if (c.skipped) parts.push(`${formatNumber(c.skipped)} skipped`);
  return parts.join(', ');
}

export function Directories(): ReactNode {
  const list = useLoad((signal) => api<{ items: Directory[] }>('/directories', { signal }), []);
  return (
    <>
      <PageTitle>Directories</PageTitle>
      <p className="lead">Active Directory and LDAP sources users are imported and synchronized from. Sources are configured in countersign.yaml.</p>
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data?.items.length === 0 ? <p className="empty">No directory is configured. See the directory guide to connect Active Directory or LDAP.</p> : null}
      {list.data?.items.map((d) => (
        <DirectoryCard key={d.name} directory={d} onChanged={list.reload} />
      ))}
    </>
  );
}

function DirectoryCard({ directory: d, onChanged }: { directory: Directory; onChanged: () => void }): ReactNode {
  const { can } = useSession();
  const path = `/directories/${seg(d.name)}`;
  const runs = useLoad(
    (signal) => (d.sync === null ? Promise.resolve({ items: [] as SyncRun[] }) : api<{ items: SyncRun[] }>(`${path}/runs${query({ limit: 10 })}`, { signal })),
    [path, d.sync === null],
  );
  const start = useAction();
  const decide = useAction();
  const running = runs.data?.items.some((r) => r.status === 'running') ?? false;

  // Live progress: every 2 s while a run is running.
  useInterval(
    () => {
      runs.reload();
    },
    2000,
    running,
  );

  const sync = (mode: 'full' | 'incremental'): void => {
    void start.run(async () => {
      await api(`${path}/sync`, { method: 'POST', body: { mode } });
      runs.reload();
      return `${mode === 'full' ? 'Full' : 'Incremental'} synchronization started.`;
    });
  };
  const decision = (run: SyncRun, verdict: 'approve' | 'reject'): void => {
    void decide.run(async () => {
      await api(`${path}/runs/${seg(run.id)}/${verdict}`, { method: 'POST', body: {} });
      runs.reload();
      onChanged();
      return verdict === 'approve' ? 'Changes applied.' : 'Changes rejected: nobody was changed.';
    });
  };

  const s = d.sync;
  return (
    <Section
      title={d.name}
      actions={
        s !== null && can('directories.manage') ? (
          <>
            <button type="button" className="primary" disabled={start.busy || running} onClick={() => sync('full')}>
              Synchronize now
            </button>
            <button type="button" disabled={start.busy || running} onClick={() => sync('incremental')}>
              Changes only
            </button>
          </>
        ) : null
      }
    >
      <Facts
        rows={[
          ['Type', d.preset === 'activeDirectory' ? 'Active Directory' : d.preset === 'openldap' ? 'OpenLDAP' : d.preset],
          ['Servers', d.urls.join(', ')],
          ['Base DN', <code key="b">{d.baseDn}</code>],
          ['Login attribute', d.loginAttribute],
          s !== null && ['Schedule', s.scheduled ? `every ${formatSeconds(s.intervalMinutes * 60)}` : 'on demand only'],
          s !== null && ['Next run', <Time key="n" at={s.nextRunAt} relative />],
          s !== null && [
            'Users who leave',
            `${s.removal === 'none' ? 'kept' : s.removal === 'disable' ? 'disabled' : 'deleted'}; more than ${s.removalThreshold} at once wait for approval`,
          ],
          s === null && ['Synchronization', 'none (import only)'],
        ]}
      />
      <ErrorNote error={start.error} />
      <Notice>{start.message}</Notice>
      <ErrorNote error={runs.error} />
      {runs.data && runs.data.items.length > 0 ? (
        <>
          <h3>Runs</h3>
          <ScrollBox label="Synchronization runs">
            <table className="list" aria-busy={running}>
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">Mode</th>
                  <th scope="col">Status</th>
                  <th scope="col">Progress</th>
                  <th scope="col">Took</th>
                </tr>
              </thead>
              <tbody>
                {runs.data.items.map((r) => (
                  <tr key={r.id}>
                    <td>
                      <Time at={r.startedAt} seconds />
                    </td>
                    <td>
                      {r.mode} <span className="subtle">({r.trigger})</span>
                    </td>
                    <td>
                      <RunStatus status={r.status} />
                      {r.failure ? <div className="reason">{r.failure}</div> : null}
                      {r.decidedBy ? <div className="subtle">by {r.decidedBy}</div> : null}
                    </td>
                    <td aria-live={r.status === 'running' ? 'polite' : undefined}>{counts(r)}</td>
                    <td>{r.finishedAt === null ? '…' : formatSeconds(Math.max(1, (r.finishedAt - r.startedAt) / 1000))}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </ScrollBox>
        </>
      ) : null}
      {runs.data?.items
        .filter((r) => r.status === 'awaiting_approval')
        .map((r) => (
          <div key={r.id} className="callout approval">
            <h3>
              {r.pending.length} change{r.pending.length === 1 ? '' : 's'} awaiting approval
            </h3>
            <p>More users would be disabled or removed than the threshold allows. Nobody is changed until you decide.</p>
            <details>
              <summary>Show the users</summary>
              <ul>
                {r.pending.map((p) => (
                  <li key={p.userId}>
                    <a href={href('users', p.username)}>{p.username}</a>: {p.action === 'delete' ? 'delete' : 'disable'} (
                    {p.reason === 'left_scope' ? 'left the scope' : 'disabled in the directory'})
                  </li>
                ))}
              </ul>
            </details>
            {can('directories.manage') ? (
              <div className="actions">
                <ConfirmButton
                  className="danger"
                  title="Apply these changes?"
                  message={<p>Each user is checked again before the change.</p>}
                  confirmLabel="Approve"
                  disabled={decide.busy}
                  onConfirm={() => decision(r, 'approve')}
                >
                  Approve
                </ConfirmButton>
                <button type="button" disabled={decide.busy} onClick={() => decision(r, 'reject')}>
                  Reject
                </button>
              </div>
            ) : null}
          </div>
        ))}
      <ErrorNote error={decide.error} />
      <Notice>{decide.message}</Notice>
    </Section>
  );
}
