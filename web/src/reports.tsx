/**
 * Reports: the audit trail with filters and paging, CSV export of everything the filters select
 * (streamed by the server), and quick views of blocks ("not me" reports included) and bypasses,
 * each one query for its actions.
 */
import { useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { api, query } from './api.ts';
import { actionText, EventTable } from './events.tsx';
import { navigate } from './router.ts';
import type { AuditEvent, Page } from './types.ts';
import { ErrorNote, Field, Loading, Notice, PageTitle, useAction, useLoad } from './ui.tsx';

const PAGE_SIZE = 50;

interface Filters {
  readonly username: string;
  readonly application: string;
  readonly result: string;
  readonly kind: string;
  readonly action: string;
  /** Dates (YYYY-MM-DD), both days included. */
  readonly from: string;
  readonly to: string;
}

const EMPTY: Filters = { username: '', application: '', result: '', kind: '', action: '', from: '', to: '' };
const FIELDS = Object.keys(EMPTY) as (keyof Filters)[];

type View = 'all' | 'blocks' | 'bypass';
const VIEWS: Readonly<Record<View, { label: string; actions: readonly string[] }>> = {
  all: { label: 'All events', actions: [] },
  blocks: { label: 'Blocked users history', actions: ['user.block', 'user.unblock', 'user.fraud_report'] },
  bypass: { label: 'Bypass history', actions: ['bypass.issue', 'bypass.cancel'] },
};

const KNOWN_ACTIONS = [
  'authenticate',
  'user.create',
  'user.update',
  'user.delete',
  'user.block',
  'user.unblock',
  'user.lock',
  'user.unlock',
  'user.enable',
  'user.disable',
  'user.fraud_report',
  'bypass.issue',
  'bypass.cancel',
  'method.enroll',
  'method.remove',
  'settings.update',
];

/** A date input's day as the start of that day in the browser's time zone. */
function dayStart(day: string, plusDays = 0): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return undefined;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + plusDays).toISOString();
}

function filtersOf(params: URLSearchParams): Filters {
  const f: Record<string, string> = { ...EMPTY };
  for (const k of FIELDS) f[k] = params.get(k) ?? '';
  return f as unknown as Filters;
}

/** The API query for the filters and the view's actions (or the filter's one), separated by commas. */
function apiQuery(f: Filters, actions: readonly string[], extra: Record<string, string | number | null | undefined>): string {
  return query({
    username: f.username.trim(),
    application: f.application.trim(),
    result: f.result,
    kind: f.kind,
    action: actions.length > 0 ? actions.join(',') : f.action.trim(),
    from: dayStart(f.from),
    to: dayStart(f.to, 1),
    ...extra,
  });
}

const loadPage = (f: Filters, actions: readonly string[], before: number | null, signal: AbortSignal): Promise<Page<AuditEvent>> =>
  api<Page<AuditEvent>>(`/audit-events${apiQuery(f, actions, { before, limit: PAGE_SIZE })}`, { signal });

/** Downloads `href` as the file `name`. */
function download(href: string, name: string): void {
  const link = document.createElement('a');
  link.href = href;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
}

export function Reports({ params }: { params: URLSearchParams }): ReactNode {
  const applied = useMemo(() => filtersOf(params), [params]);
  const viewParam = params.get('view');
  const view: View = viewParam === 'blocks' || viewParam === 'bypass' ? viewParam : 'all';
  const actions = VIEWS[view].actions;
  const [draft, setDraft] = useState<Filters>(applied);
  const [cursors, setCursors] = useState<{ key: string; stack: (number | null)[] }>({ key: '', stack: [null] });
  const key = JSON.stringify([applied, view]);
  const stack = cursors.key === key ? cursors.stack : [null];
  const before = stack.at(-1) ?? null;

  const page = useLoad((signal) => loadPage(applied, actions, before, signal), [key, before]);
  const exporting = useAction();

  const go = (f: Filters, v: View): void => {
    const values: Record<string, string> = {};
    for (const k of FIELDS) values[k] = f[k];
    navigate(`#/reports${query({ ...values, view: v === 'all' ? '' : v })}`, true);
  };
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    go(draft, view);
  };
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [k]: e.target.value }));
  const next = page.data?.next ?? null;

  return (
    <>
      <PageTitle>Reports</PageTitle>
      <div className="segmented views" role="group" aria-label="Report">
        {(Object.keys(VIEWS) as View[]).map((v) => (
          <button key={v} type="button" aria-pressed={view === v} onClick={() => go(applied, v)}>
            {VIEWS[v].label}
          </button>
        ))}
      </div>
      {actions.length > 0 ? <p className="help">Events: {actions.map(actionText).join(', ')}.</p> : null}

      <form className="filters card" onSubmit={submit} aria-label="Filter the audit trail">
        <Field label="User">{({ id }) => <input id={id} value={draft.username} spellCheck={false} onChange={set('username')} />}</Field>
        <Field label="Application">{({ id }) => <input id={id} value={draft.application} spellCheck={false} onChange={set('application')} />}</Field>
        <Field label="Result">
          {({ id }) => (
            <select id={id} value={draft.result} onChange={set('result')}>
              <option value="">Any result</option>
              {['approved', 'denied', 'challenge', 'expired', 'success', 'failure'].map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Kind">
          {({ id }) => (
            <select id={id} value={draft.kind} onChange={set('kind')}>
              <option value="">Any kind</option>
              <option value="authentication">Sign-ins</option>
              <option value="admin">Administration</option>
              <option value="accounting">Accounting</option>
            </select>
          )}
        </Field>
        {actions.length === 0 ? (
          <Field label="Event">
            {({ id }) => (
              <>
                <input id={id} list="known-actions" value={draft.action} spellCheck={false} onChange={set('action')} />
                <datalist id="known-actions">
                  {KNOWN_ACTIONS.map((a) => (
                    <option key={a} value={a}>
                      {actionText(a)}
                    </option>
                  ))}
                </datalist>
              </>
            )}
          </Field>
        ) : null}
        <Field label="From">{({ id }) => <input id={id} type="date" value={draft.from} onChange={set('from')} />}</Field>
        <Field label="To">{({ id }) => <input id={id} type="date" value={draft.to} onChange={set('to')} />}</Field>
        <div className="actions">
          <button type="submit" className="primary">
            Apply filters
          </button>
          <button
            type="button"
            onClick={() => {
              setDraft(EMPTY);
              go(EMPTY, view);
            }}
          >
            Clear
          </button>
        </div>
      </form>

      <div className="toolbar">
        <button
          type="button"
          disabled={exporting.busy}
          onClick={() =>
            void exporting.run(async () => {
              // Everything the filters select, streamed by the server straight into the file.
              download(`/api/v1/audit-events/export${apiQuery(applied, actions, {})}`, `audit-events-${new Date().toISOString().slice(0, 10)}.csv`);
              return 'Download started: every event the filters select, oldest first.';
            })
          }
        >
          {exporting.busy ? 'Exporting…' : 'Export CSV'}
        </button>
        <ErrorNote error={exporting.error} />
        <Notice>{exporting.message}</Notice>
      </div>

      <ErrorNote error={page.error} />
      {page.data ? (
        page.data.items.length === 0 ? (
          <p className="empty">No event matches.</p>
        ) : (
          <EventTable events={page.data.items} caption="Audit events, newest first" busy={page.loading} />
        )
      ) : page.loading ? (
        <Loading />
      ) : null}
      <nav className="pager" aria-label="Pages of events">
        <button type="button" disabled={stack.length <= 1 || page.loading} onClick={() => setCursors({ key, stack: stack.slice(0, -1) })}>
          ← Newer
        </button>
        <span className="subtle">Page {stack.length}</span>
        <button type="button" disabled={next === null || page.loading} onClick={() => setCursors({ key, stack: [...stack, Number(next)] })}>
          Older →
        </button>
      </nav>
    </>
  );
}
