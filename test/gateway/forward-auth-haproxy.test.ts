/**
 * The gateway's /gateway/auth door behind a real HAProxy (Debian) running Countersign's Lua action
 * (contrib/haproxy/countersign.lua), configured with the example printed in docs/gateway.md, in
 * front of the protected test application. Sign-in with a TOTP code, identity headers, spoofed
 * identity, URL and address headers, public paths, trusted and denied networks, Countersign
 * unreachable or silent (fail closed), sign-out, and path variants that must never get through.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../../src/cli/init.ts';
import { signInThrough, startGatewayBehind, type FrontProxy, type GatewayBehind } from '../support/gateway-stack.ts';
import { forwardAuthCases } from '../support/forward-auth-cases.ts';
import { haproxyAvailable, startHaproxy, type Haproxy } from '../support/haproxy.ts';
import type { TestCore } from '../support/harness.ts';
import { freeTcpPort } from '../support/ports.ts';
import type { ProtectedApp } from '../support/protected-app.ts';
import { CookieClient, type RawResponse } from '../support/raw-http.ts';

const LUA = fileURLToPath(new URL('../../contrib/haproxy/countersign.lua', import.meta.url));

let tc: TestCore;
let app: ProtectedApp;
let haproxy: Haproxy;
let csPort: number;
let origin: string;
let secret: string;

/** The decision requests the Lua action sent to Countersign: their headers and the connection's peer address. */
let decisions: GatewayBehind<FrontProxy>['decisions'] = [];

/** A browser-like client of HAProxy's port. */
class Client extends CookieClient {
  constructor(from?: string) {
    super(haproxy.port, from);
  }
}

/**
 * docs/gateway.md's HAProxy example, as printed there, with the test's addresses: the frontend on
 * HAProxy's loopback port (plain HTTP, or TLS with `pem`), the Lua action from contrib/, Countersign
 * and the application on theirs.
 */
function haproxyConfig(port: number, countersignAt: string, appAt: string, pem?: string): string {
  const docs = readFileSync(fileURLToPath(new URL('../../docs/gateway.md', import.meta.url)), 'utf8');
  const section = docs.slice(docs.indexOf('## HAProxy (Lua action)'));
  const example = /```haproxy\n([\s\S]*?)```/.exec(section)?.[1];
  const bind = 'bind :443 ssl crt /etc/haproxy/wiki.pem';
  const load = 'lua-load /etc/haproxy/countersign.lua';
  if (!example?.includes(bind) || !example.includes(load) || !example.includes('countersign:8443') || !example.includes('wiki-backend:8080')) {
    throw new Error(`docs/gateway.md: no HAProxy example with "${bind}", "${load}", countersign:8443 and wiki-backend:8080:\n${example ?? ''}`);
  }
  return example
    .replace(bind, `bind 127.0.0.1:${port}${pem ? ` ssl crt ${pem}` : ''}`)
    .replace(load, `lua-load ${LUA}`)
    .replaceAll('countersign:8443', countersignAt)
    .replaceAll('wiki-backend:8080', appAt);
}

/** Signs in through HAProxy: the protected page, the sign-in form, the password, then a code. */
const signIn = (c: Client, path = '/admin'): Promise<void> => signInThrough(c, { origin, tc, secret }, path);

const echoOf = (res: RawResponse): { headers: Record<string, string>; rawHeaders: string[] } =>
  JSON.parse(res.body) as { headers: Record<string, string>; rawHeaders: string[] };

describe.skipIf(!haproxyAvailable())('gateway forward-auth behind HAProxy with the countersign Lua action', () => {
  let stack: GatewayBehind<Haproxy>;
  beforeAll(async () => {
    stack = await startGatewayBehind(
      ({ countersignPort, appUrl }) => {
        csPort = countersignPort;
        return startHaproxy(({ port }) => haproxyConfig(port, `127.0.0.1:${countersignPort}`, appUrl.slice('http://'.length)));
      },
      { trustedIps: ['127.0.0.2'], deniedNetworks: ['127.0.0.3'], cacheSeconds: 600, decisionPath: '/gateway/auth' },
    );
    ({ tc, app, proxy: haproxy, origin, secret, decisions } = stack);
  });

  afterAll(async () => {
    await stack?.close();
  });

  beforeEach(() => {
    app.requests.length = 0;
    decisions.length = 0;
  });

  forwardAuthCases(() => stack);

  it('asks /gateway/auth with the original URL, the client address and the cookies, never the client’s own URL or address headers', async () => {
    await new Client().get('/admin/users?tab=1', {
      'x-forwarded-for': '198.51.100.7',
      'x-original-url': `${origin}/public/x`,
      cookie: 'a=1; __Host-cs_gateway=nope',
      'x-forwarded-uri': '/public/x',
    });
    expect(decisions).toHaveLength(1);
    const [d] = decisions;
    expect(d?.url).toBe('/gateway/auth');
    expect(d?.peer).toBe('127.0.0.1');
    expect(d?.headers).toMatchObject({
      'x-original-url': `${origin}/admin/users?tab=1`,
      'x-forwarded-for': '127.0.0.1',
      cookie: 'a=1; __Host-cs_gateway=nope',
    });
    // Only what the action sends (and HAProxy's own client headers): nothing else of the request.
    expect(d?.headers['x-forwarded-uri']).toBeUndefined();
    expect(app.requests).toEqual([]);
  });

  it('says https in X-Original-URL when the frontend is TLS', async () => {
    const tls = await selfSignedCertificate();
    const secure = await startHaproxy(({ port, dir }) => {
      const pem = join(dir, 'wiki.pem');
      writeFileSync(pem, `${tls.cert}\n${tls.key}`, { mode: 0o600 });
      return haproxyConfig(port, `127.0.0.1:${csPort}`, `127.0.0.1:${app.port}`, pem);
    });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: secure.port, path: '/admin?x=1', rejectUnauthorized: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
      // The TLS origin is not one of the site's origins: Countersign refuses it, HAProxy denies.
      expect(status, secure.output()).toBe(403);
      expect(decisions.map((d) => d.headers['x-original-url'])).toEqual([`https://127.0.0.1:${secure.port}/admin?x=1`]);
      expect(app.requests).toEqual([]);
    } finally {
      await secure.stop();
    }
  });

  it('lets public paths through without a session or identity', async () => {
    expect((await new Client().get('/public/logo.png', { 'remote-user': 'mallory' })).status).toBe(200);
    expect((await new Client().get('/health')).status).toBe(200);
    expect(app.requests.map((r) => [r.url, r.headers['remote-user'], r.headers['remote-groups']])).toEqual([
      ['/public/logo.png', '', ''],
      ['/health', '', ''],
    ]);
  });

  it('signs in with password and TOTP code, then passes the identity and strips spoofed headers', async () => {
    const c = new Client();
    await signIn(c);
    expect([...c.cookies.keys()]).toContain('__Host-cs_gateway');
    const res = await c.get('/admin', { 'remote-user': 'mallory', 'remote-groups': 'admins', 'remote-email': 'mallory@evil.example' });
    expect(res.status).toBe(200);
    const echo = echoOf(res);
    expect(echo.headers).toMatchObject({ 'remote-user': 'alice', 'remote-email': 'alice@example.com', 'remote-name': 'Alice Example', 'remote-groups': '' });
    expect(echo.rawHeaders.join('\n')).not.toMatch(/mallory|admins/);
    // Each identity header arrives once: HAProxy removed the client's copy and set its own.
    const names = echo.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    for (const h of ['remote-user', 'remote-email', 'remote-name', 'remote-groups'])
      expect(
        names.filter((n) => n === h),
        h,
      ).toHaveLength(1);
    const [event] = await tc.core.audit.query({ username: 'alice', kind: 'authentication', limit: 1 });
    expect(event).toMatchObject({ application: 'wiki', result: 'approved', method: 'totp' });
  });

  it('fails closed: with Countersign refusing connections or silent, a signed-in browser gets nothing through', async () => {
    const c = new Client();
    await signIn(c);
    expect((await c.get('/admin')).status).toBe(200);
    app.requests.length = 0;

    // Nothing listens on the first port; the second accepts connections and never answers.
    const dead = await freeTcpPort();
    const held: Socket[] = [];
    const silent: Server = createServer((s) => {
      // HAProxy gives up on each attempt and resets the connection.
      s.on('error', () => {});
      held.push(s);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentPort = (silent.address() as { port: number }).port;
    try {
      for (const at of [dead, silentPort]) {
        const down = await startHaproxy(({ port }) => haproxyConfig(port, `127.0.0.1:${at}`, `127.0.0.1:${app.port}`));
        try {
          const jar = c.cookies;
          const other = new CookieClient(down.port);
          for (const [k, v] of jar) other.cookies.set(k, v);
          const started = Date.now();
          const res = await other.get('/admin', { 'remote-user': 'alice' });
          expect(res.status, down.output()).toBe(403);
          // Public paths too: no answer is no decision.
          expect((await other.get('/public/logo.png')).status).toBe(403);
          expect(Date.now() - started).toBeLessThan(15_000);
          expect(down.output()).toMatch(/countersign-auth: status 50[34]/);
        } finally {
          await down.stop();
        }
      }
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
    expect(app.requests).toEqual([]);
    // The same browser still passes through the HAProxy whose Countersign answers.
    expect((await c.get('/admin')).status).toBe(200);
  });

});
