/**
 * Request targets that try to get past the gateway: paths that might reach a protected route
 * under some reading (encoded slashes, dot segments, double encoding, mixed case, `;` parameters,
 * backslashes, overlong UTF-8), and sign-in redirect targets that try to leave the allowed
 * origin. Each generator gives well over 1,000 variants.
 */
import { expect } from 'vitest';
import type { ProtectedApp } from './protected-app.ts';
import type { RawResponse } from './raw-http.ts';

/** Paths under the rule set public = `/public/**`, `/health`; protected = everything else (`/admin`). */
export function pathVariants(): string[] {
  const prefixes = ['/public/', '/public', '/PUBLIC/', '/Public/', '/health/', '/health', '/public/a/'];
  const ups = ['..', '%2e%2e', '%2E%2E', '.%2e', '%2e.', '%252e%252e', '%c0%ae%c0%ae', '..;', '%2e%2e%3b', '.', '%u002e%u002e'];
  const seps = ['/', '%2f', '%2F', '%5c', '\\', '//', '%252f', ';/'];
  const targets = ['admin', 'ADMIN', 'Admin/x', 'admin/', '%61dmin', 'admin%00'];
  const variants: string[] = [];
  for (const p of prefixes) for (const u of ups) for (const s of seps) for (const t of targets) variants.push(`${p}${u}${s}${t}`);
  for (const t of ['/admin', '/ADMIN', '/%61dmin', '//admin', '/./admin', '/admin;/', '/%2fadmin', '/admin%2f..%2fpublic/x', '/', '/?x=/public/']) variants.push(t);
  return variants;
}

/** Redirect targets off the allowed origin `http://127.0.0.1:<port>` (or tricks on it). */
export function redirectVariants(origin: string, port: number): string[] {
  const evil = ['https://evil.example', '//evil.example', '/\\evil.example', 'https:evil.example', `${origin}@evil.example`, `http://127.0.0.1:${port}.evil.example`, 'javascript:alert(1)', 'data:text/html,x'];
  const encodings = [
    (s: string) => s,
    encodeURIComponent,
    (s: string) => encodeURIComponent(encodeURIComponent(s)),
    (s: string) => s.toUpperCase(),
    (s: string) => ` ${s}`,
    (s: string) => `${s}\t`,
    (s: string) => s.replace('.', '%2e'),
    (s: string) => s.replace('//', '/\t/'),
  ];
  const suffixes = ['', '/', '/admin', '/%2e%2e/x', '?a=b', '#frag', '\\@x', '%00', '.', ':443'];
  const schemes = ['', 'HTTP://', 'http://', 'https://', '\\\\', '/\\/'];
  const hosts = ['evil.example', `127.0.0.1:${port + 1}`, `localhost:${port}`, `127.0.0.1:${port}@evil.example`, `127.0.0.1.evil.example:${port}`, `[::1]:${port}`, `127.1:${port}`, `0x7f000001:${port}`];
  const variants: string[] = [];
  for (const e of evil) for (const enc of encodings) for (const s of suffixes) variants.push(enc(`${e}${s}`));
  for (const sc of schemes) for (const s of suffixes) for (const host of hosts) variants.push(`${sc}${host}${s}`);
  return variants;
}

/**
 * Sends every path variant without a session and checks that the application received only
 * public routes (under every reading of their path) and never answered a protected one.
 */
export async function expectNoPathGetsThrough(send: (path: string) => Promise<RawResponse>, app: ProtectedApp): Promise<Map<number, number>> {
  const variants = pathVariants();
  expect(variants.length).toBeGreaterThanOrEqual(1000);
  app.requests.length = 0;
  const outcomes = new Map<number, number>();
  for (const v of variants) {
    const res = await send(v);
    outcomes.set(res.status, (outcomes.get(res.status) ?? 0) + 1);
    // Passed (2xx) only for what the application itself serves as public.
    if (res.status >= 200 && res.status < 300) expect(res.body, v).not.toContain('"headers"');
  }
  for (const r of app.requests) expect(readings(r.url).every((p) => p.startsWith('/public/') || p === '/health'), r.url).toBe(true);
  return outcomes;
}

/** Asks the sign-in page to send a signed-in user to every redirect variant: only the origin, or 400. */
export async function expectNoRedirectLeaves(get: (path: string) => Promise<RawResponse>, origin: string, port: number): Promise<void> {
  const variants = redirectVariants(origin, port);
  expect(variants.length).toBeGreaterThanOrEqual(1000);
  for (const v of variants) {
    const res = await get(`/gateway/sign-in?rd=${encodeURIComponent(v)}`);
    if (res.status === 303 || res.status === 302) expect(new URL(String(res.headers.location), origin).origin, v).toBe(origin);
    else expect(res.status, v).toBe(400);
  }
}

/** Every way an application might read a raw path: decoded once, twice, overlong dots, backslashes, `;` parameters, case. */
export function readings(raw: string): string[] {
  const path = raw.split('?')[0] ?? '';
  const out = new Set<string>();
  let current = path;
  for (let i = 0; i < 3; i++) {
    for (const form of [current, current.replace(/\\/g, '/'), current.replace(/;[^/]*/g, '')]) {
      const resolved = resolveDots(form.replace(/%c0%ae/gi, '.'));
      out.add(resolved);
      out.add(resolved.toLowerCase());
    }
    try {
      current = decodeURIComponent(current);
    } catch {
      break;
    }
  }
  return [...out];
}

function resolveDots(path: string): string {
  const segments: string[] = [];
  for (const s of path.split('/')) {
    if (s === '..') segments.pop();
    else if (s !== '.' && s !== '') segments.push(s);
  }
  return `/${segments.join('/')}${path.endsWith('/') && segments.length > 0 ? '/' : ''}`;
}
