/**
 * The admin console's sign-in (password + second factor, or a first enrollment), its cookie, the
 * REST API with a console session (anti-forgery token, roles), sign-out, and the app's files.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ConsoleRole } from '../../src/core/types.ts';
import { CONSOLE_CSP } from '../../src/doors/http/console/index.ts';
import { MAX_ENROLL_ATTEMPTS } from '../../src/doors/http/console/session.ts';
import { cliActor } from '../support/harness.ts';
import { createTestApp, expectProblemShape, json, totpAt, type TestApp } from './helpers.ts';

const PASSWORD = 'correct horse battery staple';
const COOKIE = '__Host-cs_console';
const INDEX = '<!doctype html><title>Countersign console</title><div id="root"></div><script type="module" src="/admin/assets/app-3f2a91.js"></script>\n';

let built: string;
let t: TestApp;

beforeAll(() => {
  built = mkdtempSync(join(tmpdir(), 'countersign-console-'));
  mkdirSync(join(built, 'assets'));
  writeFileSync(join(built, 'index.html'), INDEX);
  writeFileSync(join(built, 'assets', 'app-3f2a91.js'), 'console.log("console");\n');
  writeFileSync(join(built, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
});
afterAll(() => rmSync(built, { recursive: true, force: true }));

beforeEach(async () => {
  t = await createTestApp({ firstFactor: 'local', consoleDir: built });
});
afterEach(async () => t.close());

/** A local user with a password, a console role (or none) and, unless `totp: false`, an active authenticator; returns its secret. */
async function consoleUser(username: string, role: ConsoleRole | null, opts: { totp?: boolean } = {}): Promise<string> {
  await t.core.users.create({ username, displayName: `${username} Example` }, cliActor);
  await t.core.users.setPassword(username, PASSWORD, cliActor);
  if (role !== null) await t.core.users.setConsoleRole(username, role, cliActor);
  if (opts.totp === false) return '';
  return (await t.core.methods.enrollTotp(username, {}, cliActor)).secret;
}

const cookieOf = (res: LightMyRequestResponse): string | undefined => res.cookies.find((c) => c.name === COOKIE)?.value;
const withCookie = (token: string | undefined, headers: Record<string, string> = {}) => ({ ...headers, cookie: `${COOKIE}=${token ?? ''}` });

function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return t.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) });
}

const code = (secret: string): string => totpAt(secret, t.clock.now());
/** A code that is not the current one. */
const wrongCode = (secret: string): string => (code(secret) === '000000' ? '111111' : '000000');

/** Signs in with password and code; returns the signed-in cookie and anti-forgery token. */
async function signIn(username: string, secret: string): Promise<{ token: string; csrf: string }> {
  const first = await post('/admin/session', { username, password: PASSWORD });
  expect(json(first)).toEqual({ next: 'passcode' });
  const done = await post('/admin/session/passcode', { passcode: code(secret) }, withCookie(cookieOf(first)));
  expect(done.statusCode, done.body).toBe(200);
  return { token: cookieOf(done) as string, csrf: json<{ csrf: string }>(done).csrf };
}

function expectFailed(res: LightMyRequestResponse): void {
  expect(res.statusCode, res.body).toBe(401);
  expect(expectProblemShape(res)).toMatchObject({ code: 'unauthenticated', detail: 'authentication failed' });
}

/** GET /admin/session with this token: not a signed-in session. */
async function expectSignedOut(token: string | undefined): Promise<void> {
  const res = await t.app.inject({ method: 'GET', url: '/admin/session', headers: withCookie(token) });
  expect(res.statusCode, res.body).toBe(401);
  expect(expectProblemShape(res)).toMatchObject({ code: 'unauthenticated', detail: 'not signed in' });
}

describe('console sign-in', () => {
  it('takes a password then a code, sets a __Host- cookie, and renews the session under a new token', async () => {
    const secret = await consoleUser('alice', 'admin');
    const first = await post('/admin/session', { username: 'alice', password: PASSWORD });
    expect(first.statusCode, first.body).toBe(200);
    expect(json(first)).toEqual({ next: 'passcode' });
    const cookie = first.cookies.find((c) => c.name === COOKIE);
    expect(cookie).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(cookie).not.toHaveProperty('domain');
    expect(cookie).not.toHaveProperty('maxAge');
    const early = cookie?.value as string;

    // Half signed in: neither the console nor the API take it.
    await expectSignedOut(early);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users', headers: withCookie(early) })).statusCode).toBe(401);

    const done = await post('/admin/session/passcode', { passcode: code(secret) }, withCookie(early));
    expect(done.statusCode, done.body).toBe(200);
    const view = json<{ username: string; displayName: string; role: string; csrf: string; expiresAt: number }>(done);
    expect(view).toEqual({ username: 'alice', displayName: 'alice Example', role: 'admin', csrf: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expiresAt: expect.any(Number) });
    expect(view.expiresAt).toBe(t.clock.now() + 900_000); // sessions.idleSeconds by default
    const token = cookieOf(done) as string;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(token).not.toBe(early);
    expect(done.cookies.find((c) => c.name === COOKIE)).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict', path: '/' });

    // The token seen before sign-in is worthless now; the new one works.
    await expectSignedOut(early);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users', headers: withCookie(early) })).statusCode).toBe(401);
    const again = await t.app.inject({ method: 'GET', url: '/admin/session', headers: withCookie(token) });
    expect(again.statusCode).toBe(200);
    expect(json(again)).toEqual(view);
    expect((await t.core.sessions.resolve('console', token))?.data).toEqual({ reauthAt: t.clock.now() });
    // The second factor was a real authentication of the console application, audited.
    const [decision] = await t.core.audit.query({ action: 'authenticate', username: 'alice', limit: 1 });
    expect(decision).toMatchObject({ application: 'console', result: 'approved', reason: 'passcode_ok', actor: 'user:alice' });
  });

  it('answers every failure with the same 401 and records the precise reason in the audit trail', async () => {
    const secret = await consoleUser('alice', 'admin');
    await consoleUser('bob', null);
    const wrongPassword = await post('/admin/session', { username: 'alice', password: 'not the password at all' });
    const unknown = await post('/admin/session', { username: 'nobody', password: PASSWORD });
    const noRole = await post('/admin/session', { username: 'bob', password: PASSWORD });
    for (const res of [wrongPassword, unknown, noRole]) {
      expectFailed(res);
      expect(cookieOf(res)).toBeUndefined();
    }
    expect(new Set([wrongPassword.body, unknown.body, noRole.body]).size).toBe(1);

    const first = await post('/admin/session', { username: 'alice', password: PASSWORD });
    const wrong = await post('/admin/session/passcode', { passcode: wrongCode(secret) }, withCookie(cookieOf(first)));
    expectFailed(wrong);
    expect(JSON.parse(wrong.body)).toEqual(JSON.parse(wrongPassword.body));
    // A wrong code ends the sign-in: the cookie is cleared and the right code no longer helps.
    expect(wrong.cookies.find((c) => c.name === COOKIE)?.value).toBe('');
    expectFailed(await post('/admin/session/passcode', { passcode: code(secret) }, withCookie(cookieOf(first))));

    const refusals = await t.core.audit.query({ action: 'sign_in', limit: 10 });
    expect(refusals.map((e) => [e.username, e.reason, e.result, e.application])).toEqual([
      ['bob', 'no_console_role', 'denied', 'console'],
      ['nobody', 'first_factor_unknown_user', 'denied', 'console'],
      ['alice', 'first_factor_invalid_credentials', 'denied', 'console'],
    ]);
    const [decision] = await t.core.audit.query({ action: 'authenticate', username: 'alice', limit: 1 });
    expect(decision).toMatchObject({ application: 'console', result: 'denied', reason: 'invalid_passcode' });
  });

  it('never lets a trusted network or a one-time bypass stand in for the second factor', async () => {
    const secret = await consoleUser('alice', 'admin');
    await t.core.settings.update({ trustedIps: ['127.0.0.0/8'] }, cliActor);
    await t.core.bypass.issue('alice', { reason: 'travel' }, cliActor);
    const first = await post('/admin/session', { username: 'alice', password: PASSWORD });
    expect(json(first)).toEqual({ next: 'passcode' });
    expect((await t.core.bypass.get('alice'))?.usedAt).toBeNull();
    expect((await post('/admin/session/passcode', { passcode: code(secret) }, withCookie(cookieOf(first)))).statusCode).toBe(200);
  });

  it('refuses a locked user with the same 401 after the password', async () => {
    const secret = await consoleUser('alice', 'admin');
    await t.core.settings.update({ lockout: { threshold: 1 } }, cliActor);
    await t.core.authentications.create({ username: 'alice', passcode: wrongCode(secret) }, cliActor);
    expect((await t.core.users.get('alice')).state).toBe('locked');
    expectFailed(await post('/admin/session', { username: 'alice', password: PASSWORD }));
  });

  it('takes only application/json bodies (an HTML form cannot sign anyone in)', async () => {
    await consoleUser('alice', 'admin');
    for (const [type, payload] of [
      ['application/x-www-form-urlencoded', `username=alice&password=${encodeURIComponent(PASSWORD)}`],
      ['text/plain', JSON.stringify({ username: 'alice', password: PASSWORD })],
    ] as const) {
      const res = await t.app.inject({ method: 'POST', url: '/admin/session', headers: { 'content-type': type }, payload });
      expect(res.statusCode, type).toBe(415);
      expect(expectProblemShape(res).code).toBe('unsupported_media_type');
      expect(cookieOf(res)).toBeUndefined();
    }
    expect(await t.core.audit.query({ kind: 'authentication', limit: 5 })).toEqual([]);
  });
});

describe('first enrollment', () => {
  it('sets up an authenticator at the first sign-in, allows a retry after a wrong code, then signs in', async () => {
    await consoleUser('alice', 'admin', { totp: false });
    const first = await post('/admin/session', { username: 'alice', password: PASSWORD });
    expect(first.statusCode, first.body).toBe(200);
    const body = json<{ next: string; enrollment: { secret: string; otpauthUri: string; qrSvg: string } }>(first);
    expect(body.next).toBe('enroll');
    expect(body.enrollment.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(body.enrollment.otpauthUri).toBe(`otpauth://totp/Countersign:alice?issuer=Countersign&secret=${body.enrollment.secret}&algorithm=SHA1&digits=6&period=30`);
    expect(body.enrollment.qrSvg).toMatch(/^<svg/);
    expect(await t.core.methods.list('alice')).toMatchObject([{ label: 'Countersign console', pending: true }]);
    // A first sign-in is not a failed one: no denied sign-in in the trail (the dashboard lists those).
    expect(await t.core.audit.query({ username: 'alice', kind: 'authentication', result: 'denied', limit: 5 })).toEqual([]);
    const early = cookieOf(first);
    await expectSignedOut(early);

    const secret = body.enrollment.secret;
    const wrong = await post('/admin/session/enroll', { code: wrongCode(secret) }, withCookie(early));
    expectFailed(wrong);
    expect(cookieOf(wrong)).toBeUndefined(); // the cookie stays: the user may try again
    const done = await post('/admin/session/enroll', { code: code(secret) }, withCookie(early));
    expect(done.statusCode, done.body).toBe(200);
    expect(json(done)).toMatchObject({ username: 'alice', role: 'admin' });
    expect(cookieOf(done)).not.toBe(early);
    expect(await t.core.methods.list('alice')).toMatchObject([{ label: 'Countersign console', pending: false }]);

    // Next time, the code from that authenticator.
    t.clock.advance(30_000);
    await signIn('alice', secret);
  });

  it('replaces the pending authenticator of an abandoned enrollment', async () => {
    await consoleUser('alice', 'admin', { totp: false });
    const one = json<{ enrollment: { secret: string } }>(await post('/admin/session', { username: 'alice', password: PASSWORD }));
    const two = json<{ enrollment: { secret: string } }>(await post('/admin/session', { username: 'alice', password: PASSWORD }));
    expect(two.enrollment.secret).not.toBe(one.enrollment.secret);
    const methods = await t.core.methods.list('alice');
    expect(methods).toHaveLength(1);
    expect(methods[0]?.pending).toBe(true);
  });

  it(`ends the sign-in after ${MAX_ENROLL_ATTEMPTS} wrong codes and removes the unconfirmed authenticator`, async () => {
    await consoleUser('alice', 'admin', { totp: false });
    const first = await post('/admin/session', { username: 'alice', password: PASSWORD });
    const { secret } = json<{ enrollment: { secret: string } }>(first).enrollment;
    for (let i = 1; i <= MAX_ENROLL_ATTEMPTS; i++) {
      const res = await post('/admin/session/enroll', { code: wrongCode(secret) }, withCookie(cookieOf(first)));
      expectFailed(res);
      expect(cookieOf(res), `attempt ${i}`).toBe(i === MAX_ENROLL_ATTEMPTS ? '' : undefined);
    }
    expectFailed(await post('/admin/session/enroll', { code: code(secret) }, withCookie(cookieOf(first))));
    expect(await t.core.methods.list('alice')).toEqual([]);
    const [refusal] = await t.core.audit.query({ action: 'sign_in', limit: 1 });
    expect(refusal).toMatchObject({ username: 'alice', reason: 'enroll_attempts_exhausted' });
  });
});

describe('the REST API with a console session', () => {
  it('needs the anti-forgery token for changes, and records the console user as the actor', async () => {
    const secret = await consoleUser('alice', 'admin');
    const { token, csrf } = await signIn('alice', secret);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/users', headers: withCookie(token) });
    expect(list.statusCode).toBe(200);
    expect(json<{ items: { username: string; consoleRole: string | null }[] }>(list).items).toContainEqual(expect.objectContaining({ username: 'alice', consoleRole: 'admin' }));

    const create = (headers: Record<string, string>) => post('/api/v1/users', { username: 'carol' }, withCookie(token, headers));
    const forged: Record<string, string>[] = [{}, { 'x-csrf-token': 'x'.repeat(43) }, { 'x-csrf-token': csrf.slice(1) }];
    for (const headers of forged) {
      const res = await create(headers);
      expect(res.statusCode).toBe(403);
      expect(expectProblemShape(res)).toMatchObject({ code: 'forbidden', detail: 'missing or wrong x-csrf-token' });
    }
    await expect(t.core.users.get('carol')).rejects.toMatchObject({ code: 'user_not_found' });
    const ok = await create({ 'x-csrf-token': csrf });
    expect(ok.statusCode, ok.body).toBe(201);
    const [event] = await t.core.audit.query({ action: 'user.create', username: 'carol', limit: 1 });
    expect(event?.actor).toBe('operator:alice');
  });

  it('lets the help desk unlock a user but not change settings', async () => {
    const secret = await consoleUser('hd', 'helpdesk');
    const bobSecret = await consoleUser('bob', null);
    await t.core.settings.update({ lockout: { threshold: 1 } }, cliActor);
    await t.core.authentications.create({ username: 'bob', passcode: wrongCode(bobSecret) }, cliActor);
    expect((await t.core.users.get('bob')).state).toBe('locked');
    const { token, csrf } = await signIn('hd', secret);
    const unlock = await post('/api/v1/users/bob/unlock', {}, withCookie(token, { 'x-csrf-token': csrf }));
    expect(unlock.statusCode, unlock.body).toBe(200);
    expect(json(unlock)).toMatchObject({ username: 'bob', state: 'enabled' });
    const patch = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/settings',
      headers: withCookie(token, { 'x-csrf-token': csrf, 'content-type': 'application/json' }),
      payload: JSON.stringify({ cacheSeconds: 60 }),
    });
    expect(patch.statusCode).toBe(403);
    expect(expectProblemShape(patch).code).toBe('forbidden');
    expect((await t.core.settings.get()).cacheSeconds).not.toBe(60);
  });

  it("lets the help desk sign a user out everywhere, ending that user's console sessions too", async () => {
    const hdSecret = await consoleUser('hd', 'helpdesk');
    const carolSecret = await consoleUser('carol', 'auditor');
    const carol = await signIn('carol', carolSecret);
    expect((await t.app.inject({ method: 'GET', url: '/admin/session', headers: withCookie(carol.token) })).statusCode).toBe(200);
    const { token, csrf } = await signIn('hd', hdSecret);
    const out = await post('/api/v1/users/carol/sign-out', {}, withCookie(token, { 'x-csrf-token': csrf }));
    expect(out.statusCode, out.body).toBe(200);
    expect(json(out)).toEqual({ ended: 1 });
    expect((await t.app.inject({ method: 'GET', url: '/admin/session', headers: withCookie(carol.token) })).statusCode).toBe(401);
    // The help desk's own session goes on.
    expect((await t.app.inject({ method: 'GET', url: '/admin/session', headers: withCookie(token) })).statusCode).toBe(200);
    const [event] = await t.core.audit.query({ action: 'user.sign_out', limit: 1 });
    expect(event).toMatchObject({ username: 'carol', actor: 'operator:hd', details: { sessions: 1 } });
  });

  it('lets the help desk find users, issue and cancel a bypass, run a test sign-in and reset an authenticator', async () => {
    const secret = await consoleUser('hd', 'helpdesk');
    const bobSecret = await consoleUser('bob', null);
    const { token, csrf } = await signIn('hd', secret);
    const h = withCookie(token, { 'x-csrf-token': csrf });
    const found = json<{ items: { username: string }[] }>(await t.app.inject({ method: 'GET', url: '/api/v1/users?search=bo', headers: withCookie(token) }));
    expect(found.items.map((u) => u.username)).toEqual(['bob']);

    expect((await post('/api/v1/users/bob/bypass', { reason: 'ticket 4711', seconds: 300 }, h)).statusCode).toBe(201);
    expect((await t.core.bypass.get('bob'))?.createdBy).toBe('operator:hd');
    expect((await t.app.inject({ method: 'DELETE', url: '/api/v1/users/bob/bypass', headers: h })).statusCode).toBe(204);
    expect(await t.core.bypass.get('bob')).toBeNull();

    const started = await post('/api/v1/authentications', { username: 'bob', application: 'default' }, h);
    expect(started.statusCode, started.body).toBe(201);
    const { id } = json<{ id: string; state: string }>(started);
    const answered = await post(`/api/v1/authentications/${id}/passcode`, { passcode: code(bobSecret) }, h);
    expect(json(answered)).toMatchObject({ state: 'approved' });
    expect(json(await t.app.inject({ method: 'GET', url: `/api/v1/authentications/${id}`, headers: withCookie(token) }))).toMatchObject({ state: 'approved' });

    const [method] = await t.core.methods.list('bob');
    expect((await t.app.inject({ method: 'DELETE', url: `/api/v1/users/bob/methods/${method?.id}`, headers: h })).statusCode).toBe(204);
    expect(await t.core.methods.list('bob')).toEqual([]);
    // Administrators only: deleting users and console roles.
    expect((await t.app.inject({ method: 'DELETE', url: '/api/v1/users/bob', headers: h })).statusCode).toBe(403);
    const role = await t.app.inject({ method: 'PUT', url: '/api/v1/users/bob/console-role', headers: { ...h, 'content-type': 'application/json' }, payload: '{"role":"admin"}' });
    expect(role.statusCode).toBe(403);
  });

  it('lets an auditor read but not write', async () => {
    const secret = await consoleUser('aud', 'auditor');
    await consoleUser('bob', null);
    const { token, csrf } = await signIn('aud', secret);
    for (const url of ['/api/v1/users', '/api/v1/users/bob', '/api/v1/users/bob/methods', '/api/v1/audit-events', '/api/v1/audit-events?format=csv', '/api/v1/settings', '/api/v1/applications', '/api/v1/api-keys', '/api/v1/reports/summary']) {
      const res = await t.app.inject({ method: 'GET', url, headers: withCookie(token) });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
    }
    const writes = [
      post('/api/v1/users/bob/unlock', {}, withCookie(token, { 'x-csrf-token': csrf })),
      post('/api/v1/users/bob/bypass', { reason: 'travel' }, withCookie(token, { 'x-csrf-token': csrf })),
      post('/api/v1/authentications', { username: 'bob' }, withCookie(token, { 'x-csrf-token': csrf })),
      t.app.inject({ method: 'DELETE', url: '/api/v1/users/bob', headers: withCookie(token, { 'x-csrf-token': csrf }) }),
    ];
    for (const res of await Promise.all(writes)) {
      expect(res.statusCode, res.body).toBe(403);
      expect(expectProblemShape(res).detail).toBe('Console users with the role "auditor" may not call this route.');
    }
    expect(await t.core.bypass.get('bob')).toBeNull();
  });

  it('ends at once when the console role is taken away, and follows a change of role', async () => {
    const secret = await consoleUser('alice', 'admin');
    const { token, csrf } = await signIn('alice', secret);
    await t.core.users.setConsoleRole('alice', 'auditor', cliActor);
    const asAuditor = await post('/api/v1/users', { username: 'carol' }, withCookie(token, { 'x-csrf-token': csrf }));
    expect(asAuditor.statusCode).toBe(403);
    expect(json(await t.app.inject({ method: 'GET', url: '/admin/session', headers: withCookie(token) }))).toMatchObject({ role: 'auditor' });
    await t.core.users.setConsoleRole('alice', null, cliActor);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users', headers: withCookie(token) })).statusCode).toBe(401);
    await expectSignedOut(token);
  });

  it('reads and changes the portal, fraud, PIN, session and retention settings (the settings page)', async () => {
    const secret = await consoleUser('alice', 'admin');
    const { token, csrf } = await signIn('alice', secret);
    const read = json<Record<string, unknown>>(await t.app.inject({ method: 'GET', url: '/api/v1/settings', headers: withCookie(token) }));
    expect(read).toMatchObject({
      sessions: { idleSeconds: 900, absoluteSeconds: 28_800, reauthSeconds: 300 },
      retention: { auditDays: 365, authenticationDays: 30 },
      fraud: { allowReports: true, blockUser: true },
      pin: { minLength: 4, maxLength: 8, refuseTrivial: true },
      portal: { allowEnrollment: true, allowBypass: false, bypassSeconds: 300 },
    });
    const patch = (body: unknown) =>
      t.app.inject({ method: 'PATCH', url: '/api/v1/settings', headers: withCookie(token, { 'x-csrf-token': csrf, 'content-type': 'application/json' }), payload: JSON.stringify(body) });
    const changed = await patch({ sessions: { idleSeconds: 600 }, fraud: { blockUser: false }, portal: { allowBypass: true } });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(json(changed)).toMatchObject({ sessions: { idleSeconds: 600, absoluteSeconds: 28_800 }, fraud: { allowReports: true, blockUser: false }, portal: { allowBypass: true } });
    expect((await t.core.settings.get()).sessions.idleSeconds).toBe(600);
    const tooShort = await patch({ sessions: { idleSeconds: 5 } });
    expect(tooShort.statusCode).toBe(400);
    expect(expectProblemShape(tooShort).errors).toContainEqual(expect.objectContaining({ field: 'sessions.idleSeconds' }));
    expect((await patch({ sessions: { idle: 600 } })).statusCode).toBe(400);
    const kept = await patch({ retention: { auditDays: 0 } });
    expect(kept.statusCode, kept.body).toBe(200);
    expect(json(kept)).toMatchObject({ retention: { auditDays: 0, authenticationDays: 30 } });
    const noDays = await patch({ retention: { authenticationDays: 0 } });
    expect(noDays.statusCode).toBe(400);
    expect(expectProblemShape(noDays).errors).toContainEqual(expect.objectContaining({ field: 'retention.authenticationDays' }));
  });

  it('ends after sessions.idleSeconds without a request', async () => {
    const secret = await consoleUser('alice', 'admin');
    await t.core.settings.update({ sessions: { idleSeconds: 300 } }, cliActor);
    const { token } = await signIn('alice', secret);
    t.clock.advance(299_000);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users', headers: withCookie(token) })).statusCode).toBe(200);
    t.clock.advance(300_000);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users', headers: withCookie(token) })).statusCode).toBe(401);
  });

  it('is described in the OpenAPI document (cookie and anti-forgery header); the sign-in routes are not API routes', async () => {
    const doc = json<{ components: { securitySchemes: Record<string, unknown> }; security: unknown[]; paths: Record<string, unknown> }>(
      await t.app.inject({ method: 'GET', url: '/api/v1/openapi.json' }),
    );
    expect(doc.components.securitySchemes).toMatchObject({
      apiKey: { type: 'http', scheme: 'bearer' },
      consoleSession: { type: 'apiKey', in: 'cookie', name: COOKIE },
      csrfToken: { type: 'apiKey', in: 'header', name: 'x-csrf-token' },
    });
    expect(doc.security).toEqual([{ apiKey: [] }, { consoleSession: [], csrfToken: [] }]);
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/admin'))).toEqual([]);
    expect(Object.keys(doc.paths)).toContain('/api/v1/reports/summary');
  });

  it('prefers an API key when both are sent', async () => {
    const secret = await consoleUser('aud', 'auditor');
    const { token } = await signIn('aud', secret);
    const res = await post('/api/v1/users', { username: 'carol' }, withCookie(token, t.as('admin')));
    expect(res.statusCode, res.body).toBe(201);
    const [event] = await t.core.audit.query({ action: 'user.create', username: 'carol', limit: 1 });
    expect(event?.actor).toBe('apikey:test-admin');
  });
});

describe('sign-out', () => {
  it('needs the anti-forgery token, then ends the session and clears the cookie', async () => {
    const secret = await consoleUser('alice', 'admin');
    const { token, csrf } = await signIn('alice', secret);
    const forged = await t.app.inject({ method: 'DELETE', url: '/admin/session', headers: withCookie(token) });
    expect(forged.statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/admin/session', headers: withCookie(token) })).statusCode).toBe(200);

    const out = await t.app.inject({ method: 'DELETE', url: '/admin/session', headers: withCookie(token, { 'x-csrf-token': csrf }) });
    expect(out.statusCode).toBe(204);
    const cleared = out.cookies.find((c) => c.name === COOKIE);
    expect(cleared?.value).toBe('');
    expect(cleared?.expires?.getTime()).toBeLessThanOrEqual(Date.now());
    await expectSignedOut(token);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users', headers: withCookie(token) })).statusCode).toBe(401);
    expect(await t.core.sessions.resolve('console', token)).toBeUndefined();
  });
});

describe('the console app', () => {
  const HEADERS = {
    'content-security-policy': CONSOLE_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
  };

  it('serves index.html for /admin, /admin/ and the app routes, with the console CSP and no caching', async () => {
    expect(CONSOLE_CSP).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    for (const url of ['/admin', '/admin/', '/admin/users', '/admin/users/alice?tab=methods']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body, url).toBe(INDEX);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control'], url).toBe('no-store');
      expect(res.headers, url).toMatchObject(HEADERS);
    }
  });

  it('serves hashed assets for a year and other files uncached; a missing asset or session path is a 404', async () => {
    const asset = await t.app.inject({ method: 'GET', url: '/admin/assets/app-3f2a91.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.body).toBe('console.log("console");\n');
    expect(asset.headers['content-type']).toMatch(/javascript/);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers).toMatchObject(HEADERS);
    const icon = await t.app.inject({ method: 'GET', url: '/admin/favicon.svg' });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers['cache-control']).toBe('no-store');
    for (const url of ['/admin/assets/missing-000000.js', '/admin/session/unknown']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(expectProblemShape(res).code).toBe('not_found');
      expect(res.headers, url).toMatchObject(HEADERS);
    }
  });

  it('puts the console headers on the sign-in answers too', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/admin/session' });
    expect(res.statusCode).toBe(401);
    expect(res.headers).toMatchObject({ ...HEADERS, 'cache-control': 'no-store' });
  });

  it('answers 503 with how to build it when the app is not built, and still signs in', async () => {
    const bare = await createTestApp({ firstFactor: 'local', consoleDir: join(built, 'no-such-folder') });
    try {
      for (const url of ['/admin', '/admin/', '/admin/users/alice']) {
        const res = await bare.app.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(503);
        expect(res.headers['content-type']).toMatch(/^text\/plain/);
        expect(res.body).toBe('the console is not built: run npm run build\n');
        expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
      }
      await bare.core.users.create({ username: 'alice' }, cliActor);
      await bare.core.users.setPassword('alice', PASSWORD, cliActor);
      await bare.core.users.setConsoleRole('alice', 'admin', cliActor);
      const res = await bare.app.inject({ method: 'POST', url: '/admin/session', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ username: 'alice', password: PASSWORD }) });
      expect(json(res)).toMatchObject({ next: 'enroll' });
    } finally {
      await bare.close();
    }
  });
});
