/**
 * Reports: the audit trail with filters and paging, CSV export of what the filters select (all of
 * it, streamed by the server; a quick view's few events are gathered here), and quick views of
 * blocks ("not me" reports included) and bypasses.
 */
import { useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { api, call, query } from './api.ts';
import { actionText, EventTable } from './events.tsx';
import { navigate } from './router.ts';
import type { AuditEvent, Page } from './types.ts';
import { ErrorNote, Field, Loading, Notice, PageTitle, useAction, useLoad } from './ui.tsx';

const PAGE_SIZE = 50;
const CSV_LIMIT = 10_000;

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

/** The API query for the filters and one action (the view's, or the filter's). */
function apiQuery(f: Filters, action: string | undefined, extra: Record<string, string | number | null | undefined>): string {
  return query({
    username: f.username.trim(),
    application: f.application.trim(),
    result: f.result,
    kind: f.kind,
    action: action ?? f.action.trim(),
    from: dayStart(f.from),
    to: dayStart(f.to, 1),
    ...extra,
  });
}

/** Newest first across several actions: each action's newest page, merged. */
async function loadPage(f: Filters, actions: readonly string[], before: number | null, signal: AbortSignal): Promise<Page<AuditEvent>> {
  if (actions.length === 0) return api<Page<AuditEvent>>(`/audit-events${apiQuery(f, undefined, { before, limit: PAGE_SIZE })}`, { signal });
  const pages = await Promise.all(actions.map((a) => api<Page<AuditEvent>>(`/audit-events${apiQuery(f, a, { before, limit: PAGE_SIZE })}`, { signal })));
  const merged = pages.flatMap((p) => p.items).sort((a, b) => b.id - a.id);
  const items = merged.slice(0, PAGE_SIZE);
  const more = merged.length > PAGE_SIZE || pages.some((p) => p.next !== null);
  return { items, next: more && items.length > 0 ? (items.at(-1)?.id ?? null) : null };
}

/** CSV records (quoted fields may hold line breaks). */
function csvRecords(text: string): string[] {
  const records: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (c === '\n' && !quoted) {
      records.push(text.slice(start, i + 1));
      start = i + 1;
    }
  }
  if (start < text.length) records.push(text.slice(start));
  return records.filter((r) => r.trim() !== '');
}

async function exportCsv(f: Filters, actions: readonly string[]): Promise<{ text: string; rows: number }> {
  const fetchCsv = async (action: string | undefined): Promise<string> =>
    (await call(`/api/v1/audit-events${apiQuery(f, action, { limit: CSV_LIMIT })}`, { accept: 'text/csv' })).text();
  if (actions.length === 0) {
    const text = await fetchCsv(undefined);
    return { text, rows: Math.max(0, csvRecords(text).length - 1) };
  }
  const parts = await Promise.all(actions.map(fetchCsv));
  const header = csvRecords(parts[0] ?? '')[0] ?? '';
  const rows = parts.flatMap((p) => csvRecords(p).slice(1));
  // The first column is the event id: newest first, as a single query would give.
  const id = (r: string): number => Number(/^"?(\d+)/.exec(r)?.[1] ?? 0);
  rows.sort((a, b) => id(b) - id(a));
  return { text: header + rows.join(''), rows: rows.length };
}

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

function save(text: string, name: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  download(url, name);
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
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
              const name = `audit-events-${new Date().toISOString().slice(0, 10)}.csv`;
              if (actions.length === 0) {
                // Everything the filters select, streamed by the server straight into the file.
                download(`/api/v1/audit-events/export${apiQuery(applied, undefined, {})}`, name);
                return 'Download started: every event the filters select, oldest first.';
              }
              const { text, rows } = await exportCsv(applied, actions);
              save(text, name);
              return `Exported ${rows} event${rows === 1 ? '' : 's'}${rows >= CSV_LIMIT ? ` (the newest ${CSV_LIMIT.toLocaleString()}; narrow the dates for more)` : ''}.`;
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
