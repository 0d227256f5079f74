/**
 * The gateway's forward-auth door behind a real nginx (Debian) using auth_request, in front of a
 * small protected application: sign-in with a TOTP code, identity headers, spoofing, public paths,
 * the cookie cache, idle and maximum session time, trusted and denied networks, sign-out, and
 * path and redirect variants that must never get through.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { totpAt } from '../http/helpers.ts';
import { signInThrough, startGatewayStack, STACK_PASSWORD as PASSWORD, type GatewayStack } from '../support/gateway-stack.ts';
import { cliActor, type TestCore } from '../support/harness.ts';
import { forwardAuthCases } from '../support/forward-auth-cases.ts';
import { nginxAvailable, type Nginx } from '../support/nginx.ts';
import type { ProtectedApp } from '../support/protected-app.ts';
import { expectNoRedirectLeaves } from '../support/gateway-variants.ts';
import { CookieClient, hiddenField } from '../support/raw-http.ts';

const CACHE_SECONDS = 600;

let tc: TestCore;
let app: ProtectedApp;
let nginx: Nginx;
let origin: string;
let secret: string;

/** A browser-like client of nginx's port. */
class Client extends CookieClient {
  constructor(from?: string) {
    super(nginx.port, from);
  }
}

const hidden = hiddenField;

/** Signs in through nginx: the protected page, the sign-in form, the password, then a code. */
const signIn = (c: Client, path = '/admin'): Promise<void> => signInThrough(c, { origin, tc, secret }, path);

describe.skipIf(!nginxAvailable())('gateway forward-auth behind nginx auth_request', () => {
  let stack: GatewayStack;
  beforeAll(async () => {
    stack = await startGatewayStack({ cacheSeconds: CACHE_SECONDS, trustedIps: ['127.0.0.2'], deniedNetworks: ['127.0.0.3'], pathRules: [{ paths: ['/admin/ops/**'], allowedNetworks: ['127.0.0.2'] }] });
    ({ tc, app, nginx, origin, secret } = stack);
  });

  afterAll(async () => {
    await stack?.close();
  });

  beforeEach(() => {
    app.requests.length = 0;
  });

  forwardAuthCases(() => stack);

  it('signs in with the mobile app: the waiting page shows the number and follows the approval back to the site', async () => {
    await tc.core.users.create({ username: 'pete', email: 'pete@example.com' }, cliActor);
    await tc.core.users.setPassword('pete', PASSWORD, cliActor);
    const { activationCode } = await tc.core.devices.startActivation('pete', cliActor);
    const { webcrypto } = await import('node:crypto');
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    const publicKey = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey)).toString('base64url');
    const device = await tc.core.devices.activate({ activationCode, publicKey, name: 'Phone' }, cliActor);

    const c = new Client();
    const first = await c.get('/admin');
    const form = await c.get(String(first.headers.location).slice(origin.length));
    const waiting = await c.post('/gateway/sign-in', { _csrf: hidden(form.body, '_csrf'), rd: hidden(form.body, 'rd'), username: 'pete', password: PASSWORD });
    expect(waiting.status).toBe(200);
    expect(waiting.body).toContain('<meta http-equiv="refresh" content="3;url=/gateway/verify">');
    const shown = Number(/id="match"[^>]*>(\d+)</.exec(waiting.body)?.[1]);
    // Not yet answered: the same page.
    expect((await c.get('/gateway/verify')).body).toContain(`>${shown}<`);
    expect((await c.get('/admin')).status).toBe(302);
    const [request] = await tc.core.devices.requests(device.id);
    expect(await tc.core.devices.answer(device.id, request?.id as string, { decision: 'approve', number: shown }, cliActor)).toEqual({ state: 'approved' });
    const back = await c.get('/gateway/verify');
    expect(back.status).toBe(303);
    expect(back.headers.location).toBe(`${origin}/admin`);
    const res = await c.get('/admin');
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as { headers: Record<string, string> }).headers['remote-user']).toBe('pete');

    // Denied in the app: the sign-in ends.
    const other = new Client();
    const start = await other.get(String((await other.get('/admin')).headers.location).slice(origin.length));
    const page = await other.post('/gateway/sign-in', { _csrf: hidden(start.body, '_csrf'), rd: hidden(start.body, 'rd'), username: 'pete', password: PASSWORD });
    expect(page.body).toContain('id="match"');
    const [second] = await tc.core.devices.requests(device.id);
    expect(await tc.core.devices.answer(device.id, second?.id as string, { decision: 'deny' }, cliActor)).toEqual({ state: 'denied' });
    expect((await other.get('/gateway/verify')).status).toBe(401);
    expect((await other.get('/admin')).status).toBe(302);

    // "Use a code instead": the app's request is withdrawn, a code from the authenticator signs in.
    await tc.core.users.update('pete', { defaultMethod: 'push' }, cliActor);
    const totp = await tc.core.methods.enrollTotp('pete', {}, cliActor);
    const third = new Client();
    const begin = await third.get(String((await third.get('/admin')).headers.location).slice(origin.length));
    const wait = await third.post('/gateway/sign-in', { _csrf: hidden(begin.body, '_csrf'), rd: hidden(begin.body, 'rd'), username: 'pete', password: PASSWORD });
    expect(wait.body).toContain('id="match"');
    expect(await tc.core.devices.requests(device.id)).toHaveLength(1);
    const codePage = await third.post('/gateway/verify/code', { _csrf: hidden(wait.body, '_csrf') });
    expect(codePage.body).toContain('name="code"');
    expect(await tc.core.devices.requests(device.id)).toEqual([]);
    tc.clock.advance(30_000);
    const done = await third.post('/gateway/verify', { _csrf: hidden(codePage.body, '_csrf'), code: totpAt(totp.secret, tc.clock.now()) });
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe(`${origin}/admin`);
  });

  it('lets public paths through without a session or identity', async () => {
    expect((await new Client().get('/public/logo.png')).status).toBe(200);
    expect((await new Client().get('/health')).status).toBe(200);
    expect(app.requests.map((r) => [r.url, r.headers['remote-user'] ?? ''])).toEqual([
      ['/public/logo.png', ''],
      ['/health', ''],
    ]);
  });

  it('signs in with password and TOTP code, then passes the identity and strips spoofed headers', async () => {
    const c = new Client();
    await signIn(c);
    expect([...c.cookies.keys()]).toContain('__Host-cs_gateway');
    const res = await c.get('/admin', { 'remote-user': 'mallory', 'remote-groups': 'admins', 'remote-email': 'mallory@evil.example' });
    expect(res.status).toBe(200);
    const echo = JSON.parse(res.body) as { headers: Record<string, string>; rawHeaders: string[] };
    expect(echo.headers).toMatchObject({ 'remote-user': 'alice', 'remote-email': 'alice@example.com', 'remote-name': 'Alice Example' });
    // No groups are known for alice: nginx sends no Remote-Groups at all, whatever the client sent.
    expect(echo.headers['remote-groups']).toBeUndefined();
    expect(echo.rawHeaders.join('\n')).not.toMatch(/mallory|admins/);
    // The approval is in the audit trail under the site's application.
    const [event] = await tc.core.audit.query({ username: 'alice', kind: 'authentication', limit: 1 });
    expect(event).toMatchObject({ application: 'wiki', result: 'approved', method: 'totp' });
  });

  it('asks for a new code when the cookie cache expires, without the password', async () => {
    const c = new Client();
    await signIn(c);
    tc.clock.advance((CACHE_SECONDS - 60) * 1000);
    expect((await c.get('/admin')).status).toBe(200);
    tc.clock.advance(120_000);
    const again = await c.get('/admin');
    expect(again.status).toBe(302);
    const page = await c.get(String(again.headers.location).slice(origin.length));
    expect(page.body).toContain('name="code"');
    expect(page.body).not.toContain('name="password"');
    tc.clock.advance(30_000);
    const back = await c.post('/gateway/verify', { _csrf: hidden(page.body, '_csrf'), code: totpAt(secret, tc.clock.now()) });
    expect(back.headers.location).toBe(`${origin}/admin`);
    expect((await c.get('/admin')).status).toBe(200);
  });

  it('ends sessions after the idle time and after the maximum session time', async () => {
    await tc.core.settings.update({ sessions: { idleSeconds: 200, absoluteSeconds: 500 } }, cliActor);
    try {
      const idle = new Client();
      await signIn(idle);
      tc.clock.advance(201_000);
      expect((await idle.get('/admin')).status).toBe(302);

      const busy = new Client();
      await signIn(busy);
      for (let i = 0; i < 3; i++) {
        tc.clock.advance(150_000);
        expect((await busy.get('/admin')).status, `after ${(i + 1) * 150} s`).toBe(200);
      }
      tc.clock.advance(100_000);
      // 550 s after sign-in: past the 500 s maximum, however active.
      const res = await busy.get('/admin');
      expect(res.status).toBe(302);
      expect((await busy.get(String(res.headers.location).slice(origin.length))).body).toContain('name="password"');
    } finally {
      await tc.core.settings.update({ sessions: { idleSeconds: 900, absoluteSeconds: 28_800 } }, cliActor);
    }
  });

  it("ends a user's sessions on every site when the help desk signs them out", async () => {
    const c = new Client();
    await signIn(c);
    expect((await c.get('/admin')).status).toBe(200);
    const helpdesk = { kind: 'apikey', name: 'helpdesk', role: 'helpdesk' } as const;
    expect((await tc.core.users.signOut('alice', helpdesk)).ended).toBeGreaterThanOrEqual(1);
    // Decisions may reuse the session for gateway.decisionCacheMs (1 s): past it, sign-in again.
    tc.clock.advance(1000);
    expect((await c.get('/admin')).status).toBe(302);
    const [event] = await tc.core.audit.query({ action: 'user.sign_out', limit: 1 });
    expect(event).toMatchObject({ username: 'alice', actor: 'apikey:helpdesk', details: { sessions: expect.any(Number) } });
  });

  it('applies path rules: a path open only to one network, whatever the spelling', async () => {
    const c = new Client();
    await signIn(c);
    expect((await c.get('/admin/users')).status).toBe(200);
    for (const path of ['/admin/ops/restart', '/admin/ops', '/admin//ops/x', '/admin/%6Fps/x', '/admin/x/../ops/x', '/admin/x/..%2fops/x']) expect((await c.get(path)).status, path).toBe(403);
    const office = new Client('127.0.0.2');
    const start = await office.get('/admin/ops/restart');
    const form = await office.get(String(start.headers.location).slice(origin.length));
    await office.post('/gateway/sign-in', { _csrf: hidden(form.body, '_csrf'), rd: hidden(form.body, 'rd'), username: 'alice', password: PASSWORD });
    expect((await office.get('/admin/ops/restart')).status).toBe(200);
  });

  it('redirects only to the configured site after sign-in, for every redirect variant', async () => {
    const c = new Client();
    await signIn(c);
    await expectNoRedirectLeaves((path) => c.get(path), origin, nginx.port);
  });
});
