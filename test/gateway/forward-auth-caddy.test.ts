/**
 * The gateway's forward-auth door behind a real Caddy (Debian) using `forward_auth`, configured
 * with the Caddyfile printed in docs/gateway.md, in front of the protected test application:
 * Caddy asks GET /gateway/forward-auth, whose 302 goes to the browser as it is. Sign-in with a
 * TOTP code, identity headers, spoofed identity, URL and address headers, public paths, trusted
 * and denied networks, sign-out, and path variants that must never get through.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { forwardAuthCases } from '../support/forward-auth-cases.ts';
import { caddyAvailable, startCaddy, type Caddy } from '../support/caddy.ts';
import { signInThrough, startGatewayBehind, type FrontProxy, type GatewayBehind } from '../support/gateway-stack.ts';
import type { TestCore } from '../support/harness.ts';
import type { ProtectedApp } from '../support/protected-app.ts';
import { CookieClient, type RawResponse } from '../support/raw-http.ts';

let tc: TestCore;
let app: ProtectedApp;
let caddy: Caddy;
let origin: string;
let secret: string;

/** The decision requests Caddy sent to Countersign: their headers and the connection's peer address. */
let decisions: GatewayBehind<FrontProxy>['decisions'] = [];

/** A browser-like client of Caddy's port. */
class Client extends CookieClient {
  constructor(from?: string) {
    super(caddy.port, from);
  }
}

/**
 * docs/gateway.md's Caddy example, as printed there, with the test's addresses: the site on Caddy's
 * loopback port (plain HTTP), Countersign and the application on theirs.
 */
function siteBlock(port: number, countersignAt: string, appAt: string): string {
  const docs = readFileSync(fileURLToPath(new URL('../../docs/gateway.md', import.meta.url)), 'utf8');
  const section = docs.slice(docs.indexOf('## Caddy (`forward_auth`)'));
  const example = /```caddyfile\n([\s\S]*?)```/.exec(section)?.[1];
  if (!example?.includes('wiki.example.com {') || !example.includes('countersign:8443') || !example.includes('wiki-backend:8080')) {
    throw new Error(`docs/gateway.md: no Caddy example with wiki.example.com, countersign:8443 and wiki-backend:8080:\n${example ?? ''}`);
  }
  return example.replace('wiki.example.com {', `http://127.0.0.1:${port} {`).replaceAll('countersign:8443', countersignAt).replaceAll('wiki-backend:8080', appAt);
}

/** Signs in through Caddy: the protected page, the sign-in form, the password, then a code. */
const signIn = (c: Client, path = '/admin'): Promise<void> => signInThrough(c, { origin, tc, secret }, path);

const echoOf = (res: RawResponse): { headers: Record<string, string>; rawHeaders: string[] } => JSON.parse(res.body) as { headers: Record<string, string>; rawHeaders: string[] };

describe.skipIf(!caddyAvailable())('gateway forward-auth behind Caddy forward_auth', () => {
  let stack: GatewayBehind<Caddy>;
  beforeAll(async () => {
    stack = await startGatewayBehind(
      ({ countersignPort, appUrl }) => {
        return startCaddy(({ port }) => siteBlock(port, `127.0.0.1:${countersignPort}`, appUrl.slice('http://'.length)));
      },
      { trustedIps: ['127.0.0.2'], deniedNetworks: ['127.0.0.3'], cacheSeconds: 600, decisionPath: '/gateway/forward-auth' },
    );
    ({ tc, app, proxy: caddy, origin, secret, decisions } = stack);
  });

  afterAll(async () => {
    await stack?.close();
  });

  beforeEach(() => {
    app.requests.length = 0;
    decisions.length = 0;
  });

  forwardAuthCases(() => stack);

  it('asks Countersign with the original request in X-Forwarded-*, from loopback (a configured proxy)', async () => {
    await new Client().get('/admin/users?tab=1', { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-uri': '/public/x', 'x-forwarded-host': 'other.example' });
    expect(decisions).toHaveLength(1);
    const [d] = decisions;
    // Caddy rewrites the path to the forward-auth URI (keeping the query) and sends the original in headers.
    expect(d?.url).toBe('/gateway/forward-auth?tab=1');
    expect(d?.peer).toBe('127.0.0.1');
    expect(d?.headers).toMatchObject({
      host: `127.0.0.1:${caddy.port}`,
      'x-forwarded-method': 'GET',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': `127.0.0.1:${caddy.port}`,
      // The raw request target, replacing the client's own.
      'x-forwarded-uri': '/admin/users?tab=1',
      // Caddy trusts no proxy in front of itself: the client's X-Forwarded-For is replaced by its address.
      'x-forwarded-for': '127.0.0.1',
    });
  });

  it('never lets a client-sent X-Original-URL decide', async () => {
    const res = await new Client().get('/admin', { 'x-original-url': `${origin}/public/x` });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`${origin}/gateway/sign-in?rd=${encodeURIComponent(`${origin}/admin`)}`);
    expect(app.requests).toEqual([]);
    expect(decisions.map((d) => d.headers['x-original-url'])).toEqual([undefined]);
  });

  it('lets public paths through without a session or identity', async () => {
    expect((await new Client().get('/public/logo.png')).status).toBe(200);
    expect((await new Client().get('/health')).status).toBe(200);
    expect(app.requests.map((r) => [r.url, r.headers['remote-user'] ?? ''])).toEqual([
      ['/public/logo.png', ''],
      ['/health', ''],
    ]);
    // Countersign answers a public path without identity headers; none of Caddy's placeholders reach the app.
    for (const r of app.requests) expect(r.rawHeaders.join('\n')).not.toMatch(/\{http\.|^remote-/im);
  });

  it('signs in with password and TOTP code, then passes the identity and strips spoofed headers', async () => {
    const c = new Client();
    await signIn(c);
    expect([...c.cookies.keys()]).toContain('__Host-cs_gateway');
    const res = await c.get('/admin', { 'remote-user': 'mallory', 'remote-groups': 'admins', 'remote-email': 'mallory@evil.example' });
    expect(res.status).toBe(200);
    const echo = echoOf(res);
    expect(echo.headers).toMatchObject({ 'remote-user': 'alice', 'remote-email': 'alice@example.com', 'remote-name': 'Alice Example' });
    // No groups are known for alice: copy_headers sets Remote-Groups from Countersign's empty answer.
    expect(echo.headers['remote-groups'] ?? '').toBe('');
    expect(echo.rawHeaders.join('\n')).not.toMatch(/mallory|admins/);
    // Each identity header arrives once: Caddy replaced the client's copy instead of adding to it.
    const names = echo.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(names.filter((n) => n === 'remote-user')).toHaveLength(1);
    // The application sees Caddy's X-Forwarded-For (the client's loopback address).
    expect(echo.headers['x-forwarded-for']).toBe('127.0.0.1');
    const [event] = await tc.core.audit.query({ username: 'alice', kind: 'authentication', limit: 1 });
    expect(event).toMatchObject({ application: 'wiki', result: 'approved', method: 'totp' });
  });

});
