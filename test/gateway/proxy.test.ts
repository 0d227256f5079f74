/**
 * The built-in reverse proxy in front of the protected test application (the same one nginx
 * guards in forward-auth-nginx.test.ts): a whole site behind a session, a form login intercepted
 * and completed with a TOTP code, an HTTP Basic site, the cookie cache, and the spellings of a
 * login post that must never slip past the interception.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy, type ProxySettings } from '../../src/doors/http/gateway/proxy.ts';
import { hmacHasher } from '../../src/platform/hashing.ts';
import { totpAt } from '../http/helpers.ts';
import { cliActor, createTestCore, type TestCore } from '../support/harness.ts';
import { freeTcpPort } from '../support/ports.ts';
import { testFirstFactor } from '../support/web-app.ts';
import { startProtectedApp, type ProtectedApp } from '../support/protected-app.ts';
import { expectNoPathGetsThrough, expectNoRedirectLeaves } from '../support/gateway-variants.ts';
import { CookieClient, hiddenField, sendRaw, type RawResponse } from '../support/raw-http.ts';

const PASSWORD = 'correct horse battery';
const DENIAL = '<!doctype html><title>Denied</title><p>Ask the help desk: 555-0100.</p>';

interface Stack {
  tc: TestCore;
  app: ProtectedApp;
  proxy: FastifyInstance;
  port: number;
  origin: string;
  secret: string;
}
let stack: Stack | undefined;

afterEach(async () => {
  await stack?.proxy.close();
  await stack?.app.stop();
  await stack?.tc.close();
  stack = undefined;
});

async function start(mode: ProxySettings['mode'], extra: Partial<ProxySettings> = {}): Promise<Stack> {
  const tc = await createTestCore();
  const app = await startProtectedApp({ basicUser: 'alice', basicPassword: 'basic-password' });
  const port = await freeTcpPort();
  const origin = `http://127.0.0.1:${port}`;
  await tc.core.applications.create({ name: 'intranet', requireUserMatch: true }, cliActor);
  await tc.core.users.create({ username: 'alice', email: 'alice@example.com' }, cliActor);
  await tc.core.users.setPassword('alice', PASSWORD, cliActor);
  const secret = (await tc.core.methods.enrollTotp('alice', {}, cliActor)).secret;
  const proxy = await startProxy({
    core: tc.core,
    firstFactor: testFirstFactor(tc),
    clock: tc.clock,
    keyedHasher: hmacHasher(tc.keyring.pepper),
    site: { name: 'intranet', application: 'intranet', origins: [origin], publicPaths: ['/public/**'], deniedNetworks: [], cacheSeconds: 900, denialHtml: DENIAL },
    proxy: { host: '127.0.0.1', port, upstream: app.url, mode, ...extra },
    proxies: [],
    signInPerMinute: 100_000,
  });
  stack = { tc, app, proxy, port, origin, secret };
  return stack;
}

/** From a redirect to the sign-in page: the code page (the first factor is settled), then a code; returns the answer sending the user back. */
async function secondFactor(s: Stack, c: CookieClient, redirect: RawResponse): Promise<RawResponse> {
  expect(redirect.status).toBe(302);
  const location = String(redirect.headers.location);
  expect(location.startsWith('/gateway/sign-in?rd=')).toBe(true);
  const page = await c.get(location);
  expect(page.status).toBe(200);
  expect(page.body).toContain('name="code"');
  expect(page.body).not.toContain('name="password"');
  s.tc.clock.advance(30_000);
  return c.post('/gateway/verify', { _csrf: hiddenField(page.body, '_csrf'), code: totpAt(s.secret, s.tc.clock.now()) });
}

describe('built-in proxy, session mode', () => {
  it('signs in on the site origin, then passes requests with the identity and without spoofed headers or the gateway cookie', async () => {
    const s = await start('session');
    const c = new CookieClient(s.port);
    expect((await c.get('/public/logo.png')).status).toBe(200);
    const first = await c.get('/admin');
    expect(first.status).toBe(302);
    expect(first.headers.location).toBe(`/gateway/sign-in?rd=${encodeURIComponent(`${s.origin}/admin`)}`);
    const form = await c.get(String(first.headers.location));
    const verify = await c.post('/gateway/sign-in', { _csrf: hiddenField(form.body, '_csrf'), rd: hiddenField(form.body, 'rd'), username: 'alice', password: PASSWORD });
    s.tc.clock.advance(30_000);
    const back = await c.post('/gateway/verify', { _csrf: hiddenField(verify.body, '_csrf'), code: totpAt(s.secret, s.tc.clock.now()) });
    expect(back.headers.location).toBe(`${s.origin}/admin`);
    const res = await c.get('/admin', { 'remote-user': 'mallory', cookie: `${[...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ')}; theme=dark` });
    expect(res.status).toBe(200);
    const echo = JSON.parse(res.body) as { headers: Record<string, string> };
    expect(echo.headers).toMatchObject({ 'remote-user': 'alice', 'remote-email': 'alice@example.com', cookie: 'theme=dark' });
    expect(s.app.requests.filter((r) => r.url === '/admin')).toHaveLength(1);
    // Targets that are not a plain path, or do not decode, are client errors even when signed in.
    expect((await c.get('/admin/%zz')).status).toBe(400);
    expect((await c.get('http://evil.example/admin')).status).toBe(400);
    expect((await c.get('*')).status).toBe(400);
  });
});

describe('built-in proxy, path and redirect variants', () => {
  it('lets no path variant reach a protected route without a session, and redirects only to the site', async () => {
    const s = await start('session');
    const outcomes = await expectNoPathGetsThrough((path) => sendRaw(s.port, path), s.app);
    expect(outcomes.get(302) ?? 0).toBeGreaterThan(500);
    const c = new CookieClient(s.port);
    const first = await c.get('/admin');
    const form = await c.get(String(first.headers.location));
    const verify = await c.post('/gateway/sign-in', { _csrf: hiddenField(form.body, '_csrf'), rd: hiddenField(form.body, 'rd'), username: 'alice', password: PASSWORD });
    s.tc.clock.advance(30_000);
    expect((await c.post('/gateway/verify', { _csrf: hiddenField(verify.body, '_csrf'), code: totpAt(s.secret, s.tc.clock.now()) })).status).toBe(303);
    await expectNoRedirectLeaves((path) => c.get(path), s.origin, s.port);
  });
});

describe('built-in proxy, form-based interception', () => {
  it('holds a login post until the code, then the application signs the user in; the cookie cache skips the next code', async () => {
    const s = await start('form', { form: { loginPath: '/login', checkFirstFactor: false } });
    const c = new CookieClient(s.port);
    // The login page itself passes (its form is also where the fields are read from).
    expect((await c.get('/login')).body).toContain('name="password"');
    const held = await c.post('/login', { username: 'alice', password: 'app-password', domain: 'EXAMPLE' });
    expect(s.app.requests.filter((r) => r.method === 'POST')).toEqual([]);
    const back = await secondFactor(s, c, held);
    expect(back.status).toBe(303);
    const resume = String(back.headers.location);
    expect(resume).toMatch(new RegExp(`^${s.origin}/login\\?__countersign_resume=`));
    // The held post reaches the application now, once, and its answer (a session cookie) reaches the browser.
    const done = await c.get(resume.slice(s.origin.length));
    expect(done.status).toBe(302);
    expect(s.app.requests.filter((r) => r.method === 'POST').map((r) => [r.url, r.body])).toEqual([['/login', 'username=alice&password=app-password&domain=EXAMPLE']]);
    const home = JSON.parse((await c.get('/')).body) as { sessionUser: string | null };
    expect(home.sessionUser).toBe('alice');
    expect((await c.get(resume.slice(s.origin.length))).status).toBe(403);

    // Within the cookie cache: the next login post of the same user goes straight through.
    const again = await c.post('/login', { username: 'alice', password: 'app-password', domain: 'EXAMPLE' });
    expect(again.status).toBe(302);
    expect(s.app.requests.filter((r) => r.method === 'POST')).toHaveLength(2);
    // Past it: held again.
    s.tc.clock.advance(901_000);
    expect(String((await c.post('/login', { username: 'alice', password: 'app-password' })).headers.location)).toContain('/gateway/sign-in?rd=');
    expect(s.app.requests.filter((r) => r.method === 'POST')).toHaveLength(2);
  });

  it('forgets a held login post that was not resumed in time', async () => {
    const s = await start('form', { form: { loginPath: '/login', checkFirstFactor: false } });
    const c = new CookieClient(s.port);
    const back = await secondFactor(s, c, await c.post('/login', { username: 'alice', password: 'app-password' }));
    // Held for at most twice the challenge lifetime (120 s by default).
    s.tc.clock.advance(241_000);
    const late = await c.get(String(back.headers.location).slice(s.origin.length));
    expect(late.status).toBe(403);
    expect(s.app.requests.filter((r) => r.method === 'POST')).toEqual([]);
  });

  it('intercepts every spelling of the login path and refuses posts it cannot read', async () => {
    const s = await start('form', { form: { loginPath: '/login', checkFirstFactor: false } });
    const c = new CookieClient(s.port);
    for (const path of ['/login', '/LOGIN', '/Login/', '/login.', '/login;jsessionid=1', '/%6cogin', '//login', '/x/../login', '/login?next=/admin']) {
      const res = await c.post(path, { username: 'alice', password: 'app-password' });
      expect(res.status, path).toBe(302);
      expect(String(res.headers.location), path).toContain('/gateway/sign-in?rd=');
    }
    for (const path of ['/login%2f', '/%2e%2e/login', '/login%252f']) expect((await c.post(path, { username: 'alice', password: 'x' })).status, path).toBe(400);
    const multipart = await c.send('/login', { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: '--x\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice\r\n--x--\r\n' });
    expect(multipart.status).toBe(415);
    expect((await c.send('/login', { method: 'POST' })).status).toBe(415);
    expect((await c.send('/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `username=alice&pad=${'x'.repeat(70_000)}` })).status).toBe(413);
    expect(s.app.requests.filter((r) => r.method === 'POST')).toEqual([]);
  });

  it('shows the denial page after too many wrong codes, and an unknown user never reaches the application', async () => {
    const s = await start('form', { form: { loginPath: '/login', submitPath: '/login', usernameField: 'username', passwordField: 'password', checkFirstFactor: false } });
    const c = new CookieClient(s.port);
    const held = await c.post('/login', { username: 'alice', password: 'app-password' });
    let page = await c.get(String(held.headers.location));
    let last: RawResponse = page;
    for (let i = 0; i < 5 && last.status !== 403; i++) {
      last = await c.post('/gateway/verify', { _csrf: hiddenField(page.body, '_csrf'), code: '000000' === totpAt(s.secret, s.tc.clock.now()) ? '111111' : '000000' });
      page = last;
    }
    expect(last.status).toBe(403);
    expect(last.body).toBe(DENIAL);
    const nobody = await new CookieClient(s.port).post('/login', { username: 'nobody', password: 'app-password' });
    expect(nobody.status).toBe(403);
    expect(nobody.body).toBe(DENIAL);
    expect(s.app.requests.filter((r) => r.method === 'POST')).toEqual([]);
  });

  it('checks the password against the directory first when configured', async () => {
    const s = await start('form', { form: { loginPath: '/login', checkFirstFactor: true } });
    const wrong = await new CookieClient(s.port).post('/login', { username: 'alice', password: 'app-password' });
    expect(wrong.status).toBe(403);
    const right = await new CookieClient(s.port).post('/login', { username: 'alice', password: PASSWORD });
    expect(right.status).toBe(302);
    const [refusal] = await s.tc.core.audit.query({ action: 'sign_in', limit: 1 });
    expect(refusal).toMatchObject({ username: 'alice', application: 'intranet', reason: 'first_factor_invalid_credentials' });
  });
});

describe('built-in proxy, HTTP Basic site', () => {
  const basic = (user: string, password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

  it('lets the application ask for credentials, then asks for a code once per credentials and cache period', async () => {
    const s = await start('basic');
    const c = new CookieClient(s.port);
    const ask = await c.get('/basic/report');
    expect(ask.status).toBe(401);
    expect(ask.headers['www-authenticate']).toContain('Basic');
    const held = await c.get('/basic/report', basic('alice', 'basic-password'));
    expect(s.app.requests.filter((r) => r.headers.authorization !== undefined)).toEqual([]);
    const back = await secondFactor(s, c, held);
    expect(back.headers.location).toBe(`${s.origin}/basic/report`);
    const ok = await c.get('/basic/report', basic('alice', 'basic-password'));
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('alice');
    // The session holds a keyed hash of the credentials: nothing in the database to guess the password against.
    const stored = JSON.stringify((await s.tc.core.sessions.resolve('gateway', c.cookies.get('__Host-cs_gateway')))?.data);
    const header = basic('alice', 'basic-password')['authorization'] as string;
    for (const unkeyed of [header, header.slice(6), createHash('sha256').update(header).digest('hex'), createHash('sha256').update(`gateway-basic:intranet\n${header}`).digest('hex')]) expect(stored).not.toContain(unkeyed);
    expect(stored).toMatch(/"basic":"[0-9a-f]{64}"/);
    // Other credentials with the same session: a new code first.
    expect(String((await c.get('/basic/report', basic('alice', 'another-password'))).headers.location)).toContain('/gateway/sign-in');
    // A scheme spelled differently is read the same way; one that cannot be read is refused.
    const lower = new CookieClient(s.port);
    expect((await lower.get('/basic/report', { authorization: `basic ${Buffer.from('alice:basic-password').toString('base64')}` })).status).toBe(302);
    expect((await lower.get('/basic/report', { authorization: 'Basic %%%' })).status).toBe(400);
    expect((await lower.get('/basic/report', { authorization: 'Digest username="alice"' })).status).toBe(400);
  });

  it('ends with the idle time and the maximum session time', async () => {
    const s = await start('basic');
    await s.tc.core.settings.update({ sessions: { idleSeconds: 120, absoluteSeconds: 600 } }, cliActor);
    const c = new CookieClient(s.port);
    await secondFactor(s, c, await c.get('/basic/a', basic('alice', 'basic-password')));
    s.tc.clock.advance(121_000);
    expect((await c.get('/basic/a', basic('alice', 'basic-password'))).status).toBe(302);

    const busy = new CookieClient(s.port);
    await secondFactor(s, busy, await busy.get('/basic/a', basic('alice', 'basic-password')));
    for (let i = 0; i < 5; i++) {
      s.tc.clock.advance(100_000);
      expect((await busy.get('/basic/a', basic('alice', 'basic-password'))).status, `after ${(i + 1) * 100} s`).toBe(200);
    }
    s.tc.clock.advance(100_000);
    expect((await busy.get('/basic/a', basic('alice', 'basic-password'))).status).toBe(302);
  });
});
