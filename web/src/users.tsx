/**
 * Users: search (as you type, debounced), filter by state, pages of 50 by username with a cursor
 * (the server pages by key, so 200,000 users page as fast as 200). Each row opens the user's page.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { api, query } from './api.ts';
import { href, navigate } from './router.ts';
import { STATES, type EffectiveStatus, type Page, type UserView } from './types.ts';
import { ErrorNote, Field, PageTitle, Pager, StateBadge, useDebounced, useLoad, ScrollBox } from './ui.tsx';

const PAGE_SIZE = 50;

interface Position {
  /** The filter the cursors belong to. */
  readonly key: string;
  /** Cursors of the pages before this one (the first page's is null). */
  readonly previous: readonly (string | null)[];
  readonly after: string | null;
}

/** Where the list was, so coming back from a user's page returns to the same page. */
let remembered: Position | undefined;

const isState = (s: string | null): s is EffectiveStatus => s !== null && (STATES as readonly string[]).includes(s);

export function Users({ params }: { params: URLSearchParams }): ReactNode {
  const initialState = params.get('state');
  const [text, setText] = useState(params.get('search') ?? '');
  const [state, setState] = useState<EffectiveStatus | ''>(isState(initialState) ? initialState : '');
  const search = useDebounced(text.trim(), 300);
  const key = `${search}\n${state}`;
  const [position, setPosition] = useState<Position>(() => (remembered?.key === key ? remembered : { key, previous: [], after: null }));
  const current = position.key === key ? position : { key, previous: [], after: null };
  const first = useRef(true);

  // The filter lives in the address, so it survives a reload and the back button.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    navigate(`#/users${query({ search, state })}`, true);
  }, [search, state]);

  useEffect(() => {
    remembered = current;
  }, [current]);

  const list = useLoad(
    (signal) => api<Page<UserView>>(`/users${query({ search, state, after: current.after, limit: PAGE_SIZE })}`, { signal }),
    [search, state, current.after],
  );
  const items = list.data?.items ?? [];
  const next = list.data?.next ?? null;

  return (
    <>
      <PageTitle>Users</PageTitle>
      <form className="filters" role="search" aria-label="Find users" onSubmit={(e) => e.preventDefault()}>
        <Field label="Search" help="Part of a user name, display name or email.">
          {({ id, describedBy }) => (
            <input
              id={id}
              type="search"
              autoComplete="off"
              spellCheck={false}
              value={text}
              aria-describedby={describedBy}
              onChange={(e) => setText(e.target.value)}
            />
          )}
        </Field>
        <Field label="State">
          {({ id }) => (
            <select id={id} value={state} onChange={(e) => setState(e.target.value as EffectiveStatus | '')}>
              <option value="">Any state</option>
              {STATES.map((s) => (
                <option key={s} value={s}>
                  {s[0]?.toUpperCase() + s.slice(1)}
                </option>
              ))}
            </select>
          )}
        </Field>
      </form>
      <ErrorNote error={list.error} />
      <ScrollBox label="Users">
        <table className="list" aria-busy={list.loading}>
          <caption className="visually-hidden">Users{search ? ` matching “${search}”` : ''}</caption>
          <thead>
            <tr>
              <th scope="col">User name</th>
              <th scope="col">Display name</th>
              <th scope="col">Email</th>
              <th scope="col">State</th>
              <th scope="col">Source</th>
            </tr>
          </thead>
          <tbody>
            {items.map((u) => (
              <tr key={u.id}>
                <td>
                  <a href={href('users', u.username)}>{u.username}</a>
                </td>
                <td>{u.displayName ?? <span className="subtle">—</span>}</td>
                <td>{u.email ?? <span className="subtle">—</span>}</td>
                <td>
                  <StateBadge state={u.state} />
                </td>
                <td>{u.source.kind === 'directory' ? u.source.directory : 'local'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollBox>
      {!list.loading && items.length === 0 && !list.error ? <p className="empty">{search || state ? 'No user matches.' : 'No users yet.'}</p> : null}
      <Pager
        label="Pages of users"
        page={current.previous.length + 1}
        busy={list.loading}
        hasPrevious={current.previous.length > 0}
        hasNext={next !== null}
        onPrevious={() => setPosition({ key, previous: current.previous.slice(0, -1), after: current.previous.at(-1) ?? null })}
        onNext={() => next !== null && setPosition({ key, previous: [...current.previous, current.after], after: String(next) })}
      />
    </>
  );
}
