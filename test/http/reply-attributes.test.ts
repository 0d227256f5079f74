/** A user's RADIUS reply attributes through the REST API: set, read, clear, refuse, audit. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, expectProblemShape, json } from './helpers.ts';
import type { TestApp } from './helpers.ts';

const ATTRIBUTES = [
  { name: 'Class', value: 'vpn-admins' },
  { name: 'Filter-Id', value: 'admin-acl' },
  { name: 'Framed-IP-Address', value: '10.8.0.12' },
];

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: t.as('admin'), payload: { username: 'alice' } });
  expect(res.statusCode, res.body).toBe(201);
  expect(json(res)['replyAttributes']).toEqual([]);
});
afterEach(async () => t?.close());

const put = (payload: unknown, role: 'admin' | 'helpdesk' | 'sdk' = 'admin', user = 'alice') =>
  t.app.inject({ method: 'PUT', url: `/api/v1/users/${user}/reply-attributes`, headers: t.as(role), payload: payload as Record<string, unknown> });
const del = (role: 'admin' | 'helpdesk' | 'sdk' = 'admin', user = 'alice') => t.app.inject({ method: 'DELETE', url: `/api/v1/users/${user}/reply-attributes`, headers: t.as(role) });

describe('PUT and DELETE /api/v1/users/{username}/reply-attributes', () => {
  it('sets the list, shows it on the user, replaces it, clears it, and audits each change', async () => {
    const res = await put({ attributes: ATTRIBUTES });
    expect(res.statusCode, res.body).toBe(200);
    expect(json(res)).toMatchObject({ username: 'alice', replyAttributes: ATTRIBUTES });
    const read = await t.app.inject({ method: 'GET', url: '/api/v1/users/ALICE', headers: t.as('sdk') });
    expect(json(read)['replyAttributes']).toEqual(ATTRIBUTES);
    const listed = await t.app.inject({ method: 'GET', url: '/api/v1/users?search=alice', headers: t.as('auditor') });
    expect((json(listed)['items'] as { replyAttributes: unknown }[])[0]?.replyAttributes).toEqual(ATTRIBUTES);

    const replaced = await put({ attributes: [{ name: 'Class', value: 'one' }, { name: 'Class', value: 'two' }] });
    expect(json(replaced)['replyAttributes']).toEqual([{ name: 'Class', value: 'one' }, { name: 'Class', value: 'two' }]);

    const cleared = await del();
    expect(cleared.statusCode, cleared.body).toBe(200);
    expect(json(cleared)['replyAttributes']).toEqual([]);

    const events = await t.core.audit.query({ username: 'alice', kind: 'admin', limit: 10 });
    expect(events.slice(0, 3).map((e) => [e.action, e.actor, e.details])).toEqual([
      ['user.reply_attributes', 'apikey:test-admin', { from: [{ name: 'Class', value: 'one' }, { name: 'Class', value: 'two' }], to: [] }],
      ['user.reply_attributes', 'apikey:test-admin', { from: ATTRIBUTES, to: [{ name: 'Class', value: 'one' }, { name: 'Class', value: 'two' }] }],
      ['user.reply_attributes', 'apikey:test-admin', { from: [], to: ATTRIBUTES }],
    ]);
  });

  it('refuses names outside the RADIUS dictionary, protocol attributes and values that do not fit, naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ attributes: [{ name: 'Class', value: 'x' }, { name: 'Not-An-Attribute', value: 'x' }] }, 'attributes[1].name'],
      [{ attributes: [{ name: 'Session-Timeout', value: 'an hour' }] }, 'attributes[0].value'],
      [{ attributes: [{ name: 'Framed-IP-Address', value: 'not-an-address' }] }, 'attributes[0].value'],
      [{ attributes: [{ name: 'Message-Authenticator', value: 'x' }] }, 'attributes[0].name'],
      [{ attributes: [{ name: 'Proxy-State', value: 'x' }] }, 'attributes[0].name'],
      [{ attributes: [{ name: 'Class', value: '' }] }, 'attributes[0].value'],
      [{ attributes: [{ name: 'Class', value: 'x'.repeat(254) }] }, 'attributes[0].value'],
      [{ attributes: [{ name: 'Class', value: 'line\nbreak' }] }, 'attributes[0].value'],
      [{ attributes: [{ name: 'bad name', value: 'x' }] }, 'attributes[0].name'],
      [{ attributes: [{ name: 'Class', value: 'x', tag: 1 }] }, 'attributes[0].tag'],
      [{ attributes: Array.from({ length: 33 }, () => ({ name: 'Class', value: 'x' })) }, 'attributes'],
      [{ attributes: Array.from({ length: 9 }, () => ({ name: 'Class', value: 'x'.repeat(250) })) }, 'attributes'],
      [{}, 'attributes'],
    ];
    for (const [payload, field] of cases) {
      const res = await put(payload);
      expect(res.statusCode, JSON.stringify(payload).slice(0, 80)).toBe(400);
      const problem = expectProblemShape(res);
      expect(problem.code).toBe('validation_failed');
      expect(problem.errors?.map((e) => e.field), JSON.stringify(payload).slice(0, 80)).toContain(field);
    }
    expect((await t.core.users.get('alice')).replyAttributes).toEqual([]);
  });

  it('is for administrators only; 404 for an unknown user', async () => {
    for (const role of ['helpdesk', 'sdk'] as const) {
      expect((await put({ attributes: ATTRIBUTES }, role)).statusCode).toBe(403);
      expect(expectProblemShape(await del(role)).code).toBe('forbidden');
    }
    const missing = await put({ attributes: ATTRIBUTES }, 'admin', 'nobody');
    expect(missing.statusCode).toBe(404);
    expect(expectProblemShape(missing).code).toBe('user_not_found');
    expect((await del('admin', 'nobody')).statusCode).toBe(404);
  });

  it('is described in the OpenAPI document', async () => {
    const doc = json(await t.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/api/v1/users/{username}/reply-attributes'] ?? {}).sort()).toEqual(['delete', 'put']);
  });
});
