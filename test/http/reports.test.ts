/** The dashboard's reports and the console-role route, over a real core and SQLite store. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import { cliActor } from '../support/harness.ts';
import { createTestApp, expectProblemShape, json, totpAt, type TestApp } from './helpers.ts';

const HOUR = 3_600_000;

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => t.close());

interface Report {
  bucket: string;
  series: { at: number; approved: number; denied: number; expired: number }[];
  byMethod: { method: string; approved: number; denied: number }[];
  byApplication: { application: string; approved: number; denied: number }[];
}

const get = (url: string, role: 'admin' | 'helpdesk' | 'auditor' | 'sdk' = 'auditor') => t.app.inject({ method: 'GET', url, headers: t.as(role) });

describe('GET /api/v1/reports/sign-ins', () => {
  it('counts final results per hour, method and application; a challenge counts once decided', async () => {
    const start = t.clock.now(); // 12:00 UTC
    await t.core.users.create({ username: 'alice' }, cliActor);
    const { secret } = await t.core.methods.enrollTotp('alice', {}, cliActor);
    await t.core.applications.create({ name: 'vpn' }, cliActor);
    const code = () => totpAt(secret, t.clock.now());

    await t.core.authentications.create({ username: 'alice', application: 'vpn', passcode: code() }, cliActor); // 12:00 approved
    await t.core.authentications.create({ username: 'alice', application: 'vpn', passcode: '000000' === code() ? '111111' : '000000' }, cliActor); // denied
    await t.core.authentications.create({ username: 'nobody', application: 'vpn' }, cliActor); // denied, no method
    const open = await t.core.authentications.create({ username: 'alice' }, cliActor); // challenge: not counted yet
    t.clock.advance(2 * HOUR); // 14:00
    await t.core.authentications.get(open.view.id); // expired now
    t.clock.advance(30_000);
    await t.core.authentications.create({ username: 'alice', passcode: code() }, cliActor); // 14:00 approved, default app

    const res = await get(`/api/v1/reports/sign-ins?from=${start}&to=${start + 3 * HOUR}&bucket=hour`);
    expect(res.statusCode, res.body).toBe(200);
    expect(json<Report>(res)).toEqual({
      bucket: 'hour',
      series: [
        { at: start, approved: 1, denied: 2, expired: 0 },
        { at: start + HOUR, approved: 0, denied: 0, expired: 0 },
        { at: start + 2 * HOUR, approved: 1, denied: 0, expired: 1 },
      ],
      byMethod: [
        { method: 'none', approved: 0, denied: 1 },
        { method: 'totp', approved: 2, denied: 1 },
      ],
      byApplication: [
        { application: 'default', approved: 1, denied: 0 },
        { application: 'vpn', approved: 1, denied: 2 },
      ],
    });
  });

  it('gives one point per bucket, aligned on UTC hours or days, and 24 hours by default', async () => {
    const now = t.clock.now() + 25 * 60_000; // 12:25
    t.clock.set(now);
    const hours = json<Report>(await get('/api/v1/reports/sign-ins'));
    expect(hours.bucket).toBe('hour');
    expect(hours.series).toHaveLength(25);
    expect(hours.series[0]?.at).toBe(Date.UTC(2025, 11, 31, 12, 0));
    expect(hours.series.at(-1)?.at).toBe(Date.UTC(2026, 0, 1, 12, 0));
    const days = json<Report>(await get(`/api/v1/reports/sign-ins?bucket=day&from=2025-12-01T00:00:00Z&to=${now}`));
    expect(days.series).toHaveLength(32);
    expect(days.series.every((p, i) => p.at === Date.UTC(2025, 11, 1) + i * 86_400_000)).toBe(true);
  });

  it('refuses more than 400 buckets, an empty range and an unknown bucket', async () => {
    const now = t.clock.now();
    const tooLong = await get(`/api/v1/reports/sign-ins?from=${now - 401 * HOUR}&to=${now}`);
    expect(tooLong.statusCode).toBe(400);
    expect(expectProblemShape(tooLong)).toMatchObject({ code: 'validation_failed', errors: [{ field: 'from', message: expect.stringContaining('at most 400') }] });
    const today = Date.UTC(2026, 0, 1);
    expect((await get(`/api/v1/reports/sign-ins?from=${today - 399 * 86_400_000}&to=${now}&bucket=day`)).statusCode).toBe(200); // 400 days, today included
    expect((await get(`/api/v1/reports/sign-ins?from=${today - 400 * 86_400_000}&to=${now}&bucket=day`)).statusCode).toBe(400);
    expect((await get(`/api/v1/reports/sign-ins?from=${now}&to=${now}`)).statusCode).toBe(400);
    expect((await get('/api/v1/reports/sign-ins?bucket=week')).statusCode).toBe(400);
    expect((await get('/api/v1/reports/sign-ins?from=yesterday')).statusCode).toBe(400);
  });
});

describe('GET /api/v1/reports/summary', () => {
  it('counts users by state and lists the last denied authentications and fraud reports, newest first', async () => {
    for (const name of ['a', 'b', 'c', 'd', 'e']) await t.core.users.create({ username: name }, cliActor);
    await t.core.users.setEnabled('b', false, cliActor);
    await t.core.users.block('c', 'stolen phone', cliActor);
    await t.core.settings.update({ lockout: { threshold: 1 }, fraud: { blockUser: false } }, cliActor);
    await t.core.methods.enrollTotp('d', {}, cliActor);
    for (let i = 0; i < 12; i++) {
      t.clock.advance(1000);
      await t.core.authentications.create({ username: `nobody${i}` }, cliActor);
    }
    await t.core.authentications.create({ username: 'd', passcode: '12345678901' }, cliActor); // denied, locks d
    await t.core.users.reportFraud('e', { note: 'not me' }, { kind: 'user', name: 'e', role: 'self' });

    const res = await get('/api/v1/reports/summary', 'helpdesk');
    expect(res.statusCode, res.body).toBe(200);
    const summary = json<{
      users: Record<string, number>;
      recentFailures: { username: string; result: string; action: string }[];
      fraudReports: { username: string; action: string; reason: string }[];
      server: Record<string, unknown>;
    }>(res);
    expect(summary.users).toEqual({ total: 5, enabled: 2, locked: 1, blocked: 1, disabled: 1 });
    expect(summary.recentFailures).toHaveLength(10);
    expect(summary.recentFailures.map((e) => e.username)).toEqual(['d', 'nobody11', 'nobody10', 'nobody9', 'nobody8', 'nobody7', 'nobody6', 'nobody5', 'nobody4', 'nobody3']);
    expect(summary.recentFailures.every((e) => e.result === 'denied' && e.action === 'authenticate')).toBe(true);
    expect(summary.fraudReports).toMatchObject([{ username: 'e', action: 'user.fraud_report', reason: 'not me' }]);
    expect(summary.server).toEqual({ serverName: 'test-server', version: pkg.version, startedAt: Date.UTC(2026, 0, 1, 12, 0, 0), store: 'sqlite' });
  });

  it('is not for integrators (sdk)', async () => {
    expect((await get('/api/v1/reports/summary', 'sdk')).statusCode).toBe(403);
  });
});

describe('PUT /api/v1/users/{username}/console-role', () => {
  it('gives and takes away a console role (admin only); the user view shows it', async () => {
    await t.core.users.create({ username: 'alice' }, cliActor);
    const put = (role: unknown, as: 'admin' | 'helpdesk' = 'admin') =>
      t.app.inject({ method: 'PUT', url: '/api/v1/users/alice/console-role', headers: { ...t.as(as), 'content-type': 'application/json' }, payload: JSON.stringify({ role }) });
    expect(json((await get('/api/v1/users/alice', 'admin')))).toMatchObject({ consoleRole: null });
    const given = await put('helpdesk');
    expect(given.statusCode, given.body).toBe(200);
    expect(json(given)).toMatchObject({ username: 'alice', consoleRole: 'helpdesk' });
    expect((await put('admin', 'helpdesk')).statusCode).toBe(403);
    expect((await put('root')).statusCode).toBe(400);
    expect((await t.core.users.get('alice')).consoleRole).toBe('helpdesk');

    const session = await t.core.sessions.start({ kind: 'console', userId: (await t.core.users.get('alice')).id, stage: 'complete' });
    const removed = await put(null);
    expect(json(removed)).toMatchObject({ consoleRole: null });
    expect(await t.core.sessions.resolve('console', session.token)).toBeUndefined();
    const [event] = await t.core.audit.query({ action: 'user.console_role', limit: 1 });
    expect(event).toMatchObject({ username: 'alice', actor: 'apikey:test-admin', details: { from: 'helpdesk', to: null } });
  });
});
