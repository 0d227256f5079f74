/**
 * Routes live in the URL fragment (#/users/alice?tab=x), so any address under /admin/ loads the
 * same page and the server needs no fallback route.
 */
import { useEffect, useState } from 'react';

export interface Route {
  /** Path segments, decoded: #/users/a%2Fb is ['users', 'a/b']. */
  readonly segments: readonly string[];
  readonly params: URLSearchParams;
}

function current(): Route {
  const hash = window.location.hash.replace(/^#/, '');
  const [path = '', search = ''] = hash.split('?', 2);
  const segments = path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
  return { segments, params: new URLSearchParams(search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const onChange = (): void => setRoute(current());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

/** The href of a console path: href('users', 'alice') is #/users/alice. */
export function href(...segments: string[]): string {
  return '#/' + segments.map(encodeURIComponent).join('/');
}

export function navigate(to: string, replace = false): void {
  if (replace) window.history.replaceState(null, '', to);
  else window.location.hash = to.replace(/^#/, '');
  if (replace) window.dispatchEvent(new HashChangeEvent('hashchange'));
}
