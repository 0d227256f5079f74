import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvent } from '../store/conformance.ts';
import { createTestApp, expectProblemShape, type TestApp } from './helpers.ts';

let t: TestApp;
const ADDED = 12_345;
const T0 = Date.UTC(2025, 0, 1);

beforeAll(async () => {
  t = await createTestApp();
  // More than two pages of 5,000, an hour apart, every tenth one denied.
  for (let from = 0; from < ADDED; from += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, ADDED - from) }, (_, k) => {
        const i = from + k;
        return t.tc.store.audit.append(
          auditEvent({ at: T0 + i * 3_600_000, result: i % 10 === 0 ? 'denied' : 'approved', username: `user${i % 7}`, application: 'vpn' }),
        );
      }),
    );
  }
}, 60_000);
afterAll(async () => t?.close());

const get = (url: string, role: 'admin' | 'helpdesk' | 'auditor' | 'sdk' = 'auditor') => t.app.inject({ method: 'GET', url, headers: t.as(role) });

describe('GET /api/v1/audit-events/export', () => {
  it('streams every event, oldest first, as one CSV attachment', async () => {
    const res = await get('/api/v1/audit-events/export');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="audit-events-\d{4}-\d{2}-\d{2}\.csv"$/);
    const rows = parse(res.body, { columns: true }) as Record<string, string>[];
    // The app's own events (API keys created by the harness) first, then the added ones.
    expect(rows.length).toBeGreaterThan(ADDED);
    const ids = rows.map((r) => Number(r['id']));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    expect(res.body.match(/^id,at,kind,/gm)).toHaveLength(1);
    expect(rows.at(-1)?.['at']).toBe(new Date(T0 + (ADDED - 1) * 3_600_000).toISOString());
  });

  it('filters like the list, and writes JSON lines', async () => {
    const from = new Date(T0 + 1_000 * 3_600_000).toISOString();
    const to = new Date(T0 + 11_000 * 3_600_000).toISOString();
    const denied = await get(`/api/v1/audit-events/export?result=denied&from=${from}&to=${to}`);
    expect(parse(denied.body, { columns: true })).toHaveLength(1_000);
    const res = await get('/api/v1/audit-events/export?username=user3&format=jsonl', 'helpdesk');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="audit-events-\d{4}-\d{2}-\d{2}\.jsonl"$/);
    const events = res.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { username: string });
    expect(events).toHaveLength(Math.ceil((ADDED - 3) / 7));
    expect(events.every((e) => e.username === 'user3')).toBe(true);
    // Nothing selected: the header alone.
    expect((await get('/api/v1/audit-events/export?username=nobody')).body).toMatch(/^id,at,kind,[^\n]*\r\n$/);
  });

  it('takes several actions separated by commas, in the list as in the export', async () => {
    await t.tc.store.audit.append(auditEvent({ at: T0, kind: 'admin', action: 'user.block', result: 'success', username: 'blocked-one' }));
    await t.tc.store.audit.append(auditEvent({ at: T0, kind: 'admin', action: 'user.unblock', result: 'success', username: 'blocked-one' }));
    const listed = JSON.parse((await get('/api/v1/audit-events?username=blocked-one&action=user.block,user.unblock,user.fraud_report')).body) as {
      items: { action: string }[];
    };
    expect(listed.items.map((e) => e.action)).toEqual(['user.unblock', 'user.block']);
    const exported = parse((await get('/api/v1/audit-events/export?action=user.block,%20user.unblock')).body, { columns: true }) as Record<string, string>[];
    expect(exported.map((r) => r['action'])).toEqual(['user.block', 'user.unblock']);
    const tooMany = await get(`/api/v1/audit-events?action=${Array.from({ length: 21 }, (_, i) => `a${i}`).join(',')}`);
    expect(tooMany.statusCode).toBe(400);
    expect(expectProblemShape(tooMany).errors).toContainEqual(expect.objectContaining({ field: 'action' }));
    expect((await get('/api/v1/audit-events?action=,,')).statusCode).toBe(400);
  });

  it('refuses a bad time with a problem before anything is sent, and the roles that may not read the trail', async () => {
    const bad = await get('/api/v1/audit-events/export?from=yesterday');
    expect(bad.statusCode).toBe(400);
    expect(expectProblemShape(bad).errors).toContainEqual(expect.objectContaining({ field: 'from' }));
    expect((await get('/api/v1/audit-events/export?limit=10')).statusCode).toBe(400);
    expect((await get('/api/v1/audit-events/export', 'sdk')).statusCode).toBe(403);
  });
});
