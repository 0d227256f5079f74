/**
 * Validation errors are application/problem+json with code validation_failed and one entry per
 * field, whether the route schema or the core refused the input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldProblems, toProblem } from '../../src/doors/http/errors.ts';
import { CoreError } from '../../src/core/errors.ts';
import { createTestApp, expectProblemShape } from './helpers.ts';
import type { TestApp } from './helpers.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

describe('schema validation', () => {
  it('names every bad body field with its path', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: t.as('admin'),
      payload: { displayName: 7, phone: { number: 5 }, extra: true },
    });
    expect(res.statusCode).toBe(400);
    const p = expectProblemShape(res);
    expect(p).toMatchObject({ type: 'urn:countersign:problem:validation_failed', title: 'Invalid request', status: 400, code: 'validation_failed' });
    const byField = Object.fromEntries((p.errors ?? []).map((e) => [e.field, e]));
    expect(Object.keys(byField).sort()).toEqual(['displayName', 'extra', 'phone.number', 'username']);
    expect(byField['username']).toEqual({ field: 'username', in: 'body', message: 'is required' });
    expect(byField['extra']?.message).toBe('is not allowed');
    expect(byField['displayName']?.message).toBe('must be string or null');
    expect(byField['phone.number']?.message).toBe('must be string');
    expect(p.detail).toContain('username is required');

    const enums = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: t.as('admin'), payload: { username: 'u', status: 'sleeping', defaultMethod: 'fax' } });
    expect(expectProblemShape(enums).errors).toEqual([
      { field: 'status', in: 'body', message: 'must be one of: "enabled", "disabled"' },
      { field: 'defaultMethod', in: 'body', message: 'must be "totp" or "hotp" or "backup" or "sms" or "voice" or "push" or null' },
    ]);
  });

  it('names query and path parameters', async () => {
    const q = await t.app.inject({ method: 'GET', url: '/api/v1/users?limit=0&state=happy&color=red', headers: t.as('admin') });
    expect(q.statusCode).toBe(400);
    const qp = expectProblemShape(q);
    expect(qp.errors?.map((e) => [e.in, e.field]).sort()).toEqual([
      ['query', 'color'],
      ['query', 'limit'],
      ['query', 'state'],
    ]);

    const long = 'x'.repeat(300);
    const p = await t.app.inject({ method: 'GET', url: `/api/v1/users/${long}`, headers: t.as('admin') });
    expect(p.statusCode).toBe(400);
    expect(expectProblemShape(p).errors).toEqual([{ field: 'username', in: 'params', message: expect.stringContaining('256') }]);
  });

  it('names array items', async () => {
    const res = await t.app.inject({ method: 'PATCH', url: '/api/v1/settings', headers: t.as('admin'), payload: { trustedIps: ['10.0.0.0/8', 42] } });
    expect(expectProblemShape(res).errors).toEqual([{ field: 'trustedIps[1]', in: 'body', message: 'must be string' }]);
  });

  it('passes the core validation details through', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: t.as('admin'), payload: { username: 'zed', email: 'not-an-email' } });
    expect(res.statusCode).toBe(400);
    const p = expectProblemShape(res);
    expect(p.code).toBe('validation_failed');
    expect(p.errors).toEqual([{ field: 'email', message: expect.stringContaining('not an email') }]);

    const ip = await t.app.inject({ method: 'POST', url: '/api/v1/authentications', headers: t.as('sdk'), payload: { username: 'zed', clientIp: 'nowhere' } });
    expect(ip.statusCode).toBe(400);
    expect(expectProblemShape(ip).errors?.[0]?.field).toBe('clientIp');
  });

  it('refuses bad audit times naming the parameter', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/audit-events?from=yesterday', headers: t.as('admin') });
    expect(res.statusCode).toBe(400);
    expect(expectProblemShape(res).errors).toEqual([{ field: 'from', message: expect.stringContaining('ISO 8601') }]);
  });

  it('refuses malformed JSON, an empty JSON body and an oversized body', async () => {
    const bad = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: { ...t.as('admin'), 'content-type': 'application/json' }, payload: '{"username": "pin:1234' });
    expect(bad.statusCode).toBe(400);
    const bp = expectProblemShape(bad);
    expect(bp.code).toBe('validation_failed');
    expect(bp.detail).not.toContain('1234');

    const empty = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: { ...t.as('admin'), 'content-type': 'application/json' }, payload: '' });
    expect(empty.statusCode).toBe(400);

    const big = await t.app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: { ...t.as('admin'), 'content-type': 'application/json' },
      payload: JSON.stringify({ username: 'big', displayName: 'x'.repeat(1024 * 1024) }),
    });
    expect(big.statusCode).toBe(413);
    expect(expectProblemShape(big).code).toBe('payload_too_large');
  });

  it('accepts import bodies above the JSON limit, up to 20 MiB', async () => {
    const csv = `username,display_name\nbig,${'x'.repeat(2 * 1024 * 1024)}\nsmall,Small\n`;
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/users/import', headers: { ...t.as('admin'), 'content-type': 'text/csv' }, payload: csv });
    expect(res.statusCode, res.body.slice(0, 200)).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ created: 1, errors: [{ row: 2 }] });
    const huge = await t.app.inject({ method: 'POST', url: '/api/v1/users/import', headers: { ...t.as('admin'), 'content-type': 'text/csv' }, payload: 'x'.repeat(21 * 1024 * 1024) });
    expect(huge.statusCode).toBe(413);
  });

  it('answers unknown routes with a problem', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/nothing-here', headers: t.as('admin') });
    expect(res.statusCode).toBe(404);
    expect(expectProblemShape(res).code).toBe('not_found');
  });
});

describe('error mapping', () => {
  it('maps core codes to statuses and hides internal details', () => {
    expect(toProblem(new CoreError('user_not_found', 'no such user')).body).toMatchObject({ status: 404, code: 'user_not_found', detail: 'no such user' });
    expect(toProblem(new CoreError('rate_limited', 'slow down')).body.status).toBe(429);
    const internal = toProblem(new CoreError('store_unavailable', 'connect ECONNREFUSED 10.0.0.5:5432 password=hunter2'));
    expect(internal.body).toMatchObject({ status: 503, code: 'store_unavailable' });
    expect(internal.body.detail).not.toContain('hunter2');
    expect(internal.serverFault).toBe(true);
    const crash = toProblem(new TypeError('Cannot read properties of undefined (reading secret)'));
    expect(crash.body).toMatchObject({ status: 500, code: 'internal', detail: 'An internal error occurred.' });
  });

  it('collapses alternatives into one message per field', () => {
    const errors = fieldProblems(
      [
        { keyword: 'const', schemaPath: '#/properties/d/anyOf/0', instancePath: '/d', params: { allowedValue: 6 }, message: 'must be equal to constant' },
        { keyword: 'const', schemaPath: '#/properties/d/anyOf/1', instancePath: '/d', params: { allowedValue: 8 }, message: 'must be equal to constant' },
        { keyword: 'anyOf', schemaPath: '#/properties/d', instancePath: '/d', params: {}, message: 'must match a schema in anyOf' },
      ],
      'body',
    );
    expect(errors).toEqual([{ field: 'd', in: 'body', message: 'must be 6 or 8' }]);
  });
});
