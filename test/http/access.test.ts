/**
 * Every API route refuses requests without a valid key and keys of roles it does not allow, and
 * lets the roles it allows through. The route list is read from the app itself, so a new route
 * without an entry in the expected table below fails this test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/core/types.ts';
import { routesOf } from '../../src/doors/http/app.ts';
import { cliActor } from '../support/harness.ts';
import { createTestApp, expectProblemShape } from './helpers.ts';
import type { TestApp } from './helpers.ts';

const EVERY_ROLE: Role[] = ['admin', 'sdk', 'helpdesk', 'auditor'];
const ALL: Role[] = ['admin', 'sdk', 'helpdesk'];
const HELP: Role[] = ['admin', 'helpdesk'];
const ADMIN: Role[] = ['admin'];
/** Reads: the same, plus auditors. */
const READ_ALL: Role[] = [...ALL, 'auditor'];
const HELP_READ: Role[] = [...HELP, 'auditor'];
const ADMIN_READ: Role[] = [...ADMIN, 'auditor'];

/**
 * The access rules of the brief: admin = all; sdk = authentications + read users and their methods;
 * helpdesk = support work; auditor = every read of the help desk and administrators, no change.
 */
const EXPECTED: Record<string, Role[]> = {
  'GET /api/v1/users': READ_ALL,
  'POST /api/v1/users': ADMIN,
  'POST /api/v1/users/import': ADMIN,
  'GET /api/v1/users/:username': READ_ALL,
  'PATCH /api/v1/users/:username': ADMIN,
  'DELETE /api/v1/users/:username': ADMIN,
  'POST /api/v1/users/:username/enable': ADMIN,
  'POST /api/v1/users/:username/disable': ADMIN,
  'POST /api/v1/users/:username/block': HELP,
  'POST /api/v1/users/:username/unblock': HELP,
  'POST /api/v1/users/:username/unlock': HELP,
  'POST /api/v1/users/:username/sign-out': HELP,
  'GET /api/v1/users/:username/history': HELP_READ,
  'PUT /api/v1/users/:username/console-role': ADMIN,
  'PUT /api/v1/users/:username/reply-attributes': ADMIN,
  'DELETE /api/v1/users/:username/reply-attributes': ADMIN,
  'PUT /api/v1/users/:username/password': ADMIN,
  'DELETE /api/v1/users/:username/password': HELP,
  'GET /api/v1/users/:username/methods': READ_ALL,
  'POST /api/v1/users/:username/methods': HELP,
  'POST /api/v1/users/:username/backup-codes': HELP,
  'POST /api/v1/users/:username/phone-methods': HELP,
  'POST /api/v1/users/:username/push-activation': HELP,
  'DELETE /api/v1/users/:username/methods/:id': HELP,
  'POST /api/v1/users/:username/methods/:id/resync': ADMIN,
  'POST /api/v1/tokens/import': ADMIN,
  'POST /api/v1/authentications': ALL,
  'GET /api/v1/authentications/:id': READ_ALL,
  'POST /api/v1/authentications/:id/passcode': ALL,
  'GET /api/v1/users/:username/bypass': HELP_READ,
  'POST /api/v1/users/:username/bypass': HELP,
  'DELETE /api/v1/users/:username/bypass': HELP,
  'GET /api/v1/audit-events': HELP_READ,
  'GET /api/v1/audit-events/export': HELP_READ,
  'GET /api/v1/settings': HELP_READ,
  'PATCH /api/v1/settings': ADMIN,
  'GET /api/v1/applications': HELP_READ,
  'POST /api/v1/applications': ADMIN,
  'GET /api/v1/applications/:name': HELP_READ,
  'PATCH /api/v1/applications/:name': ADMIN,
  'DELETE /api/v1/applications/:name': ADMIN,
  'GET /api/v1/api-keys': ADMIN_READ,
  'POST /api/v1/api-keys': ADMIN,
  'DELETE /api/v1/api-keys/:id': ADMIN,
  'GET /api/v1/directories': HELP_READ,
  'GET /api/v1/directories/:name': HELP_READ,
  'POST /api/v1/directories/:name/test': ADMIN,
  'GET /api/v1/directories/:name/users': HELP_READ,
  'POST /api/v1/directories/:name/import': ADMIN,
  'POST /api/v1/directories/:name/sync': ADMIN,
  'GET /api/v1/directories/:name/runs': HELP_READ,
  'GET /api/v1/directories/:name/runs/:id': HELP_READ,
  'POST /api/v1/directories/:name/runs/:id/approve': ADMIN,
  'POST /api/v1/directories/:name/runs/:id/reject': ADMIN,
  'GET /api/v1/reports/sign-ins': HELP_READ,
  'GET /api/v1/reports/summary': HELP_READ,
};

/** Routes outside the key check: operations and documentation. */
// Outside the API keys: operations, the API's own documents, and the mobile app's door (device-signed requests, tested in test/radius/push.test.ts).
const PUBLIC = /^\/(healthz|readyz|metrics)$|^\/api\/v1\/(openapi\.json|docs)|^\/mobile\//;

let t: TestApp;
let revoked: string;

beforeAll(async () => {
  t = await createTestApp();
  const key = await t.core.apiKeys.create({ name: 'gone', role: 'admin' }, cliActor);
  await t.core.apiKeys.revoke(key.key.id, cliActor);
  revoked = key.token;
});
afterAll(async () => t?.close());

function concrete(url: string): string {
  // Names that do not exist: allowed callers reach the handler and get 400/404, nothing changes.
  return url.replace(':username', 'no-such-user').replace(':id', 'AAAAAAAAAAAAAAAAAAAAAA').replace(':name', 'no-such-app');
}

describe('route table', () => {
  it('lists exactly the expected API routes, each with a role list', () => {
    const api = routesOf(t.app).filter((r) => !PUBLIC.test(r.url));
    const seen = api.map((r) => `${r.method} ${r.url}`).sort();
    expect(seen).toEqual(Object.keys(EXPECTED).sort());
    for (const r of api) expect(r.roles, `${r.method} ${r.url}`).toBeDefined();
  });
});

describe.each(Object.entries(EXPECTED))('%s', (route, allowed) => {
  const [method, path] = route.split(' ') as [string, string];
  const url = concrete(path);
  const inject = (headers: Record<string, string>) =>
    t.app.inject({ method: method as 'GET', url, headers: { ...headers, 'content-type': 'application/json' }, payload: method === 'GET' || method === 'DELETE' ? undefined : '{}' });

  it('refuses a request without a key (401 unauthenticated)', async () => {
    const res = await inject({});
    expect(res.statusCode).toBe(401);
    expect(expectProblemShape(res).code).toBe('unauthenticated');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('refuses a malformed key', async () => {
    for (const authorization of ['Bearer not-a-key', 'Bearer cs_x_y', 'Basic YWRtaW46YWRtaW4=', `Bearer ${t.keys.admin}x`, `bearer`]) {
      const res = await inject({ authorization });
      expect(res.statusCode, authorization).toBe(401);
      expect(expectProblemShape(res).code).toBe('unauthenticated');
    }
  });

  it('refuses a revoked key', async () => {
    const res = await inject({ authorization: `Bearer ${revoked}` });
    expect(res.statusCode).toBe(401);
    expect(expectProblemShape(res).code).toBe('unauthenticated');
  });

  for (const role of EVERY_ROLE) {
    if (allowed.includes(role)) {
      it(`lets the ${role} role through`, async () => {
        const res = await inject(t.as(role));
        expect([401, 403], `${role}: ${res.statusCode} ${res.body}`).not.toContain(res.statusCode);
        expect(res.statusCode).toBeLessThan(500);
      });
    } else {
      it(`refuses the ${role} role (403 forbidden)`, async () => {
        const res = await inject(t.as(role));
        expect(res.statusCode).toBe(403);
        expect(expectProblemShape(res).code).toBe('forbidden');
      });
    }
  }
});
