/**
 * Calls to the server: the console's session routes (/admin/session) and the REST API (/api/v1)
 * with the session cookie. Every call other than GET carries the session's anti-forgery token in
 * `x-csrf-token`. Errors arrive as application/problem+json and are thrown as ApiError.
 */

export interface FieldError {
  readonly field: string;
  readonly message: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly errors: readonly FieldError[];
  constructor(status: number, code: string, detail: string, errors: readonly FieldError[] = []) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.errors = errors;
  }
}

let csrf = '';
let onSignedOut: (() => void) | undefined;

/** The anti-forgery token of the current session ('' when signed out). */
export function setCsrf(token: string): void {
  csrf = token;
}

/** Called when the API answers 401: the session ended (expired, or signed out elsewhere). */
export function onSessionEnded(handler: (() => void) | undefined): void {
  onSignedOut = handler;
}

export interface RequestOptions {
  readonly method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly body?: unknown;
  readonly accept?: string;
  readonly signal?: AbortSignal | undefined;
}

async function problemOf(response: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  const detail = typeof body['detail'] === 'string' ? body['detail'] : `The server answered ${response.status} ${response.statusText}.`;
  const code = typeof body['code'] === 'string' ? body['code'] : 'http_' + String(response.status);
  const errors = Array.isArray(body['errors'])
    ? (body['errors'] as unknown[]).flatMap((e): FieldError[] => {
        const r = e as Record<string, unknown>;
        return typeof r['field'] === 'string' && typeof r['message'] === 'string' ? [{ field: r['field'], message: r['message'] }] : [];
      })
    : [];
  return new ApiError(response.status, code, detail, errors);
}

/** A raw call: the Response when it is 2xx, an ApiError otherwise. */
export async function call(path: string, opts: RequestOptions = {}): Promise<Response> {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = { accept: opts.accept ?? 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (response.ok) return response;
  const error = await problemOf(response);
  if (response.status === 401 && path.startsWith('/api/')) onSignedOut?.();
  throw error;
}

/** A JSON call; undefined for 204. */
export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const response = await call(path, opts);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** A REST API call: `api('/users')` is /api/v1/users. */
export function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  return request<T>(`/api/v1${path}`, opts);
}

/** A path segment: usernames and names may hold any character. */
export const seg = encodeURIComponent;

/** `?a=1&b=2` from the defined, non-empty values (empty string when there are none). */
export function query(params: Readonly<Record<string, string | number | undefined | null>>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

export const isAbort = (e: unknown): boolean => e instanceof DOMException && e.name === 'AbortError';
