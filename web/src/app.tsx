/**
 * The console: the operator's session (checked at load, started by the sign-in page), the frame
 * (header, navigation, sign out) and the page the URL names.
 */
import { lazy, Suspense, useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiError, onSessionEnded, request, setCsrf } from './api.ts';
import { Dashboard } from './dashboard.tsx';
import { href, useRoute, type Route } from './router.ts';
import { allowed, SessionContext, useSession, type Permission, type SessionContextValue } from './session.tsx';
import { SignIn } from './sign-in.tsx';
import type { Session } from './types.ts';
import { ErrorNote, Loading } from './ui.tsx';
import { UserPage } from './user.tsx';
import { Users } from './users.tsx';

// Pages opened less often load on first visit.
const Settings = lazy(() => import('./settings.tsx').then((m) => ({ default: m.Settings })));
const Reports = lazy(() => import('./reports.tsx').then((m) => ({ default: m.Reports })));
const Applications = lazy(() => import('./applications.tsx').then((m) => ({ default: m.Applications })));
const ApiKeys = lazy(() => import('./api-keys.tsx').then((m) => ({ default: m.ApiKeys })));
const Directories = lazy(() => import('./directories.tsx').then((m) => ({ default: m.Directories })));

type State =
  { readonly kind: 'checking' } | { readonly kind: 'signed-out'; readonly note?: string } | { readonly kind: 'signed-in'; readonly session: Session };

export function App(): ReactNode {
  const [state, setState] = useState<State>({ kind: 'checking' });
  const [error, setError] = useState<unknown>();

  const signedIn = useCallback((session: Session) => {
    setCsrf(session.csrf);
    setState({ kind: 'signed-in', session });
  }, []);
  const signedOut = useCallback((note?: string) => {
    setCsrf('');
    setState(note === undefined ? { kind: 'signed-out' } : { kind: 'signed-out', note });
  }, []);

  useEffect(() => {
    const controller = new AbortController();
    request<Session>('/admin/session', { signal: controller.signal }).then(signedIn, (e: unknown) => {
      if (controller.signal.aborted) return;
      if (e instanceof ApiError && e.status === 401) signedOut();
      else setError(e);
    });
    return () => controller.abort();
  }, [signedIn, signedOut]);

  useEffect(() => {
    onSessionEnded(() => signedOut('Your session has ended. Sign in again to go on.'));
    return () => onSessionEnded(undefined);
  }, [signedOut]);

  useEffect(() => {
    if (state.kind === 'signed-out') document.title = 'Sign in · Countersign console';
  }, [state.kind]);

  if (state.kind === 'checking') {
    return <main className="center">{error ? <ErrorNote error={error} /> : <Loading />}</main>;
  }
  if (state.kind === 'signed-out') return <SignIn note={state.note} onSignedIn={signedIn} />;
  return <Console session={state.session} onSignedOut={() => signedOut()} />;
}

interface NavItem {
  readonly path: string;
  readonly label: string;
  readonly permission: Permission;
}

const NAV: readonly NavItem[] = [
  { path: '', label: 'Dashboard', permission: 'read' },
  { path: 'users', label: 'Users', permission: 'read' },
  { path: 'reports', label: 'Reports', permission: 'read' },
  { path: 'settings', label: 'Settings', permission: 'read' },
  { path: 'applications', label: 'Applications', permission: 'read' },
  { path: 'api-keys', label: 'API keys', permission: 'apiKeys.read' },
  { path: 'directories', label: 'Directories', permission: 'read' },
];

function Console({ session, onSignedOut }: { session: Session; onSignedOut: () => void }): ReactNode {
  const route = useRoute();
  const value = useMemo<SessionContextValue>(() => ({ session, can: (p) => allowed(session.role, p) }), [session]);
  const section = route.segments[0] ?? '';
  const title = NAV.find((n) => n.path === section)?.label ?? 'Not found';
  useEffect(() => {
    document.title = `${route.segments[0] === 'users' && route.segments[1] ? route.segments[1] : title} · Countersign console`;
  }, [title, route.segments]);

  return (
    <SessionContext.Provider value={value}>
      <a
        className="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header className="top">
        <a className="brand" href={href()}>
          <span className="logo" aria-hidden="true" />
          Countersign
        </a>
        <nav aria-label="Console">
          <ul>
            {NAV.filter((n) => value.can(n.permission)).map((n) => (
              <li key={n.path}>
                <a href={href(...(n.path ? [n.path] : []))} aria-current={section === n.path ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <SignedInAs onSignedOut={onSignedOut} />
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading />}>
          <Page route={route} />
        </Suspense>
      </main>
    </SessionContext.Provider>
  );
}

function SignedInAs({ onSignedOut }: { onSignedOut: () => void }): ReactNode {
  const { session } = useSession();
  const [error, setError] = useState<unknown>();
  const signOut = async (): Promise<void> => {
    try {
      await request('/admin/session', { method: 'DELETE' });
      onSignedOut();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) onSignedOut();
      else setError(e);
    }
  };
  return (
    <div className="who">
      <span>
        <span className="who-name">{session.displayName ?? session.username}</span>{' '}
        <span className="badge tone-neutral" title="Console role">
          {session.role}
        </span>
      </span>
      <button type="button" className="link-button" onClick={() => void signOut()}>
        Sign out
      </button>
      <ErrorNote error={error} />
    </div>
  );
}

function Page({ route }: { route: Route }): ReactNode {
  const [first, second] = route.segments;
  switch (first) {
    case undefined:
      return <Dashboard />;
    case 'users':
      return second === undefined ? <Users params={route.params} /> : <UserPage key={second} username={second} />;
    case 'settings':
      return <Settings />;
    case 'reports':
      return <Reports params={route.params} />;
    case 'applications':
      return <Applications />;
    case 'api-keys':
      return <ApiKeys />;
    case 'directories':
      return <Directories />;
    default:
      return (
        <>
          <h1>Page not found</h1>
          <p>
            There is no console page at this address. <a href={href()}>Go to the dashboard</a>.
          </p>
        </>
      );
  }
}
