/** Setting and clearing a user's local password through the REST API. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalPasswordFirstFactor } from '../../src/core/first-factor/local-password.ts';
import { argon2Hasher } from '../../src/platform/hashing.ts';
import { createTestApp, expectProblemShape, json } from './helpers.ts';
import type { TestApp } from './helpers.ts';

const PASSWORD = 'correct horse battery staple';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: t.as('admin'), payload: { username: 'alice' } });
  expect(res.statusCode, res.body).toBe(201);
  expect(json(res)['hasPassword']).toBe(false);
});
afterEach(async () => t?.close());

const put = (payload: unknown, role: 'admin' | 'helpdesk' | 'sdk' = 'admin', user = 'alice') =>
  t.app.inject({ method: 'PUT', url: `/api/v1/users/${user}/password`, headers: t.as(role), payload: payload as Record<string, unknown> });
const del = (role: 'admin' | 'helpdesk' | 'sdk' = 'admin', user = 'alice') =>
  t.app.inject({ method: 'DELETE', url: `/api/v1/users/${user}/password`, headers: t.as(role) });

describe('PUT and DELETE /api/v1/users/{username}/password', () => {
  it('sets a password that the local first factor then accepts, and clears it', async () => {
    const res = await put({ password: PASSWORD });
    expect(res.statusCode, res.body).toBe(200);
    const view = json(res);
    expect(view).toMatchObject({ username: 'alice', hasPassword: true });
    expect(view).not.toHaveProperty('passwordHash');
    expect(res.body).not.toContain('argon2');
    expect(res.body).not.toContain(PASSWORD);
    const read = await t.app.inject({ method: 'GET', url: '/api/v1/users/alice', headers: t.as('sdk') });
    expect(json(read)['hasPassword']).toBe(true);
    expect(read.body).not.toContain('argon2');

    const factor = createLocalPasswordFirstFactor({ store: t.tc.store, passwords: argon2Hasher({ memoryCost: 1024, timeCost: 1 }), clock: t.clock });
    expect(await factor.verify('alice', PASSWORD)).toEqual({ ok: true, dn: 'alice' });

    const cleared = await del('helpdesk');
    expect(cleared.statusCode, cleared.body).toBe(200);
    expect(json(cleared)['hasPassword']).toBe(false);
    expect(await factor.verify('alice', PASSWORD)).toEqual({ ok: false, reason: 'unknown_user' });

    const events = await t.core.audit.query({ username: 'alice', kind: 'admin', limit: 10 });
    expect(events.slice(0, 2).map((e) => [e.action, e.actor])).toEqual([
      ['user.password.clear', 'apikey:test-helpdesk'],
      ['user.password.set', 'apikey:test-admin'],
    ]);
  });

  it('lets helpdesk clear but not set a password', async () => {
    const res = await put({ password: PASSWORD }, 'helpdesk');
    expect(res.statusCode).toBe(403);
    expect(expectProblemShape(res).code).toBe('forbidden');
    expect((await t.core.users.get('alice')).hasPassword).toBe(false);
  });

  it('refuses passwords outside the policy with an error naming the password field', async () => {
    for (const payload of [{ password: 'too short' }, { password: 'x'.repeat(1025) }, { password: '' }, {}, { password: 42 }]) {
      const res = await put(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      const problem = expectProblemShape(res);
      expect(problem.code).toBe('validation_failed');
      expect(problem.errors?.map((e) => e.field)).toContain('password');
    }
    const extra = await put({ password: PASSWORD, hash: 'x' });
    expect(extra.statusCode).toBe(400);
    expect((await t.core.users.get('alice')).hasPassword).toBe(false);
  });

  it('answers 404 for an unknown user', async () => {
    expect((await put({ password: PASSWORD }, 'admin', 'nobody')).statusCode).toBe(404);
    expect((await del('admin', 'nobody')).statusCode).toBe(404);
  });
});
