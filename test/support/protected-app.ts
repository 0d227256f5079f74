/**
 * A customer's web application as the gateway tests see it: plain node:http on a free loopback
 * port, recording every request that reaches it (so a test can assert what got through and what
 * did not).
 *
 * Routes:
 * - `/`, `/admin`, `/admin/*` (any method): 200 JSON {@link Echo}: the raw request target and all
 *   request headers (remote-user, remote-groups, remote-email, anything a client tried to spoof).
 * - `GET /public/*`, `GET /health`: 200 text, no authentication of any kind.
 * - `GET /login`: an HTML form posting username, password and a hidden domain to /login;
 *   `POST /login` (urlencoded): any username with the app password sets the app's session cookie
 *   and redirects (302) to `/`; a wrong password gets 401 and the form again.
 * - `GET /basic/*`: HTTP Basic authentication (realm "Test"); 401 with WWW-Authenticate, or 200
 *   JSON { user, path }.
 * - anything else: 404.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';

export const APP_SESSION_COOKIE = 'app_session';

export interface ProtectedAppOptions {
  /** The password POST /login accepts for any username (default `app-password`). */
  loginPassword?: string;
  /** The hidden domain field's value in the login form (default `EXAMPLE`). */
  domain?: string;
  /** The one HTTP Basic account (default basic-user / basic-password). */
  basicUser?: string;
  basicPassword?: string;
}

export interface RecordedRequest {
  method: string;
  /** The request target exactly as received (not normalized). */
  url: string;
  headers: IncomingHttpHeaders;
  /** Name, value, name, value... as received (repeated headers stay separate). */
  rawHeaders: string[];
  body: string;
}

/** What the echo routes answer. */
export interface Echo {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  /** The user of a valid app session cookie (from POST /login), else null. */
  sessionUser: string | null;
}

export interface ProtectedApp {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** Every request that reached the app, oldest first (a test may empty it: `requests.length = 0`). */
  requests: RecordedRequest[];
  /** App sessions created by POST /login: cookie value -> username. */
  sessions: Map<string, string>;
  loginPassword: string;
  domain: string;
  basicUser: string;
  basicPassword: string;
  stop(): Promise<void>;
}

const html = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginForm(domain: string, error?: string): string {
  return `<!doctype html>
<html><head><title>Protected app sign-in</title></head><body>
${error ? `<p class="error">${html(error)}</p>\n` : ''}<form method="post" action="/login">
<input type="hidden" name="domain" value="${html(domain)}">
<label>Username <input type="text" name="username" autocomplete="username"></label>
<label>Password <input type="password" name="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form>
</body></html>
`;
}

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export async function startProtectedApp(options: ProtectedAppOptions = {}): Promise<ProtectedApp> {
  const loginPassword = options.loginPassword ?? 'app-password';
  const domain = options.domain ?? 'EXAMPLE';
  const basicUser = options.basicUser ?? 'basic-user';
  const basicPassword = options.basicPassword ?? 'basic-password';
  const requests: RecordedRequest[] = [];
  const sessions = new Map<string, string>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const url = req.url ?? '/';
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method, url, headers: req.headers, rawHeaders: req.rawHeaders, body });
      const path = url.split('?')[0] ?? '/';
      const send = (status: number, type: string, text: string, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
        res.end(text);
      };
      const json = (status: number, value: unknown, headers: Record<string, string> = {}): void =>
        send(status, 'application/json', JSON.stringify(value), headers);

      if (path === '/' || path === '/admin' || path.startsWith('/admin/')) {
        const token = cookie(req.headers.cookie, APP_SESSION_COOKIE);
        const echo: Echo = { method, path: url, headers: req.headers, rawHeaders: req.rawHeaders, sessionUser: (token && sessions.get(token)) ?? null };
        json(200, echo);
      } else if (method === 'GET' && (path === '/health' || path.startsWith('/public/'))) {
        send(200, 'text/plain; charset=utf-8', path === '/health' ? 'ok\n' : `public ${url}\n`);
      } else if (path === '/login' && method === 'GET') {
        send(200, 'text/html; charset=utf-8', loginForm(domain));
      } else if (path === '/login' && method === 'POST') {
        const form = new URLSearchParams(body);
        const username = form.get('username') ?? '';
        if (!username || form.get('password') !== loginPassword) {
          send(401, 'text/html; charset=utf-8', loginForm(domain, 'Wrong username or password.'));
          return;
        }
        const token = randomBytes(16).toString('hex');
        sessions.set(token, username);
        res.writeHead(302, { location: '/', 'set-cookie': `${APP_SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax`, 'cache-control': 'no-store' });
        res.end();
      } else if (method === 'GET' && path.startsWith('/basic/')) {
        const [scheme, encoded] = (req.headers.authorization ?? '').split(' ');
        const decoded = scheme?.toLowerCase() === 'basic' && encoded ? Buffer.from(encoded, 'base64').toString('utf8') : '';
        const colon = decoded.indexOf(':');
        if (colon < 0 || decoded.slice(0, colon) !== basicUser || decoded.slice(colon + 1) !== basicPassword) {
          send(401, 'text/plain; charset=utf-8', 'authentication required\n', { 'www-authenticate': 'Basic realm="Test", charset="UTF-8"' });
          return;
        }
        json(200, { user: basicUser, path: url });
      } else {
        send(404, 'text/plain; charset=utf-8', 'not found\n');
      }
    });
  });

  // Port 0: the kernel picks a free loopback port, without the race of asking first.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    sessions,
    loginPassword,
    domain,
    basicUser,
    basicPassword,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
