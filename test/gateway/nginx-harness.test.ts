/**
 * The nginx harness and the protected test application: nginx proxies to the app, and an
 * auth_request configuration against a small auth endpoint blocks, passes and sets Remote-User the
 * way the forward-auth gateway will be deployed.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { nginxAvailable, startNginx, type Nginx } from '../support/nginx.ts';
import { startProtectedApp, type Echo, type ProtectedApp } from '../support/protected-app.ts';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request with the path sent exactly as given (fetch would normalize it) and no keep-alive. */
function send(port: number, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const echo = (r: Reply): Echo => JSON.parse(r.body) as Echo;

/** The auth endpoint nginx asks: 401 without the cookie `ok=1`, else 200 with Remote-User: alice. */
interface AuthEndpoint {
  port: number;
  /** What nginx sent it: the original URI (X-Original-URI) and the headers. */
  seen: { uri: string | undefined; headers: IncomingHttpHeaders }[];
  stop(): Promise<void>;
}

async function startAuthEndpoint(): Promise<AuthEndpoint> {
  const seen: AuthEndpoint['seen'] = [];
  const server: Server = createServer((req, res) => {
    const uri = req.headers['x-original-uri'];
    seen.push({ uri: Array.isArray(uri) ? uri.join(',') : uri, headers: req.headers });
    const ok = (req.headers.cookie ?? '').split(';').some((c) => c.trim() === 'ok=1');
    if (!ok) {
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end('no\n');
      return;
    }
    res.writeHead(200, { 'remote-user': 'alice', 'remote-groups': 'staff,admins', 'content-type': 'text/plain' });
    res.end('yes\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    seen,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe.skipIf(!nginxAvailable())('nginx harness', () => {
  let app: ProtectedApp;
  let auth: AuthEndpoint;

  beforeAll(async () => {
    app = await startProtectedApp();
    auth = await startAuthEndpoint();
  });
  afterAll(async () => {
    await app?.stop();
    await auth?.stop();
  });

  describe('plain proxy_pass', () => {
    let nginx: Nginx;
    beforeAll(async () => {
      nginx = await startNginx(`
  server {
    listen 127.0.0.1:{{port}};
    location / {
      proxy_pass ${app.url};
    }
  }`);
    });
    afterAll(async () => {
      await nginx?.stop();
    });

    it('forwards requests to the protected app and the app records them', async () => {
      app.requests.length = 0;
      const r = await send(nginx.port, '/admin/users?page=2', { 'x-test': 'one' });
      expect(r.status).toBe(200);
      const e = echo(r);
      expect(e.path).toBe('/admin/users?page=2');
      expect(e.headers['x-test']).toBe('one');
      // proxy_pass without proxy_set_header Host sends the upstream's address as Host.
      expect(e.headers.host).toBe(`127.0.0.1:${app.port}`);
      expect(app.requests.map((q) => `${q.method} ${q.url}`)).toEqual(['GET /admin/users?page=2']);
      // nginx writes the access log line as it finalizes the request, possibly after the client has the reply.
      await vi.waitFor(() => expect(nginx.accessLog()).toContain('"GET /admin/users?page=2 HTTP/1.1" 200'));
    });

    it("serves the app's login form, sign-in with its session cookie, public pages and Basic authentication", async () => {
      const form = await send(nginx.port, '/login');
      expect(form.status).toBe(200);
      expect(form.body).toContain('<form method="post" action="/login">');
      expect(form.body).toMatch(/<input type="hidden" name="domain" value="EXAMPLE">/);
      expect(form.body).toContain('name="username"');
      expect(form.body).toContain('name="password"');

      const urlencoded = { 'content-type': 'application/x-www-form-urlencoded' };
      const wrong = await send(nginx.port, '/login', urlencoded, 'POST', 'username=zoe&password=nope&domain=EXAMPLE');
      expect(wrong.status).toBe(401);
      const signIn = await send(nginx.port, '/login', urlencoded, 'POST', 'username=zoe&password=app-password&domain=EXAMPLE');
      expect(signIn.status).toBe(302);
      expect(signIn.headers.location).toBe('/');
      const setCookie = signIn.headers['set-cookie']?.[0] ?? '';
      expect(setCookie).toMatch(/^app_session=[0-9a-f]{32}; Path=\/; HttpOnly/);
      expect(app.requests.at(-1)?.body).toBe('username=zoe&password=app-password&domain=EXAMPLE');
      const home = await send(nginx.port, '/', { cookie: setCookie.split(';')[0] ?? '' });
      expect(echo(home).sessionUser).toBe('zoe');
      expect(echo(await send(nginx.port, '/')).sessionUser).toBeNull();

      expect((await send(nginx.port, '/public/logo.txt')).body).toBe('public /public/logo.txt\n');
      expect((await send(nginx.port, '/health')).body).toBe('ok\n');
      expect((await send(nginx.port, '/nowhere')).status).toBe(404);

      const anonymous = await send(nginx.port, '/basic/report');
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers['www-authenticate']).toMatch(/^Basic realm="Test"/);
      const basic = (user: string, password: string): Record<string, string> => ({
        authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
      });
      expect((await send(nginx.port, '/basic/report', basic('basic-user', 'wrong'))).status).toBe(401);
      const ok = await send(nginx.port, '/basic/report', basic('basic-user', 'basic-password'));
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body)).toEqual({ user: 'basic-user', path: '/basic/report' });
    });

    it('reloads a new configuration on the same port, and refuses an invalid one with nginx’s message', async () => {
      await nginx.reload(`
  server {
    listen 127.0.0.1:{{port}};
    location = /health { return 204; }
    location / { proxy_pass ${app.url}; }
  }`);
      expect((await send(nginx.port, '/health')).status).toBe(204);
      expect((await send(nginx.port, '/admin')).status).toBe(200);
      await expect(nginx.reload('  server { listen 127.0.0.1:{{port}}; bogus_directive on; }')).rejects.toThrow(/unknown directive "bogus_directive"/);
      // The running configuration is untouched.
      expect((await send(nginx.port, '/health')).status).toBe(204);
    });
  });

  describe('auth_request', () => {
    let nginx: Nginx;
    beforeAll(async () => {
      nginx = await startNginx(
        ({ port }) => `
  upstream app { server 127.0.0.1:${app.port}; }
  server {
    listen 127.0.0.1:${port};

    location = /_auth {
      internal;
      proxy_pass http://127.0.0.1:${auth.port}/check;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
    }

    location / {
      auth_request /_auth;
      auth_request_set $user $upstream_http_remote_user;
      auth_request_set $groups $upstream_http_remote_groups;
      proxy_set_header Remote-User $user;
      proxy_set_header Remote-Groups $groups;
      proxy_pass http://app;
    }

    # Deliberately without proxy_set_header: what a client sends goes through.
    location /public/ {
      proxy_pass http://app;
    }
  }`,
      );
    });
    afterAll(async () => {
      await nginx?.stop();
    });

    it('refuses a request without the cookie before it reaches the app', async () => {
      app.requests.length = 0;
      auth.seen.length = 0;
      const r = await send(nginx.port, '/admin/secret', { 'remote-user': 'mallory' });
      expect(r.status).toBe(401);
      expect(app.requests).toEqual([]);
      expect(auth.seen.map((s) => s.uri)).toEqual(['/admin/secret']);
    });

    it('passes a request with the cookie and sets Remote-User from the auth answer', async () => {
      app.requests.length = 0;
      const r = await send(nginx.port, '/admin', { cookie: 'ok=1' });
      expect(r.status).toBe(200);
      const e = echo(r);
      expect(e.headers['remote-user']).toBe('alice');
      expect(e.headers['remote-groups']).toBe('staff,admins');
      expect(app.requests).toHaveLength(1);
    });

    it("overwrites a client's Remote-User header, and the auth endpoint sees the raw URI", async () => {
      auth.seen.length = 0;
      const raw = '/admin/%2e%2e/x?q=a%20b';
      const r = await send(nginx.port, raw, { cookie: 'ok=1', 'remote-user': 'mallory' });
      expect(r.status).toBe(200);
      const e = echo(r);
      expect(e.headers['remote-user']).toBe('alice');
      expect(e.rawHeaders.filter((h) => /mallory/i.test(h))).toEqual([]);
      expect(auth.seen.map((s) => s.uri)).toEqual([raw]);
      // The client's own header reached the auth endpoint (the gateway must not trust it).
      expect(auth.seen[0]?.headers['remote-user']).toBe('mallory');
    });

    it('lets a spoofed Remote-User through where the location does not set it (the overwrite above is what protects)', async () => {
      const r = await send(nginx.port, '/public/../admin', { 'remote-user': 'mallory' });
      // nginx normalizes /public/../admin to /admin, which needs the cookie.
      expect(r.status).toBe(401);
      expect((await send(nginx.port, '/public/x', { 'remote-user': 'mallory' })).status).toBe(200);
      expect(app.requests.at(-1)?.headers['remote-user']).toBe('mallory');
    });
  });

  it('fails to start with the error log in the message, and leaves no directory behind', async () => {
    let dir = '';
    const err = await startNginx(({ port, dir: d }) => {
      dir = d;
      return `  server { listen 127.0.0.1:${port}; location / { proxy_pass http://127.0.0.1:1/; no_such_thing; } }`;
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/nginx did not start[\s\S]*unknown directive "no_such_thing"/);
    expect(dir).not.toBe('');
    expect(existsSync(dir)).toBe(false);
  });

  it('stops: the port no longer answers and the directory is removed', async () => {
    const nginx = await startNginx(`  server { listen 127.0.0.1:{{port}}; location / { return 200 "up\\n"; } }`, { masterProcess: false });
    expect((await send(nginx.port, '/')).body).toBe('up\n');
    await nginx.stop();
    await expect(send(nginx.port, '/')).rejects.toThrow(/ECONNREFUSED/);
    expect(existsSync(nginx.dir)).toBe(false);
  });
});
