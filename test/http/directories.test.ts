/**
 * The directories API against a real slapd and a real store. Synchronization: status, "synchronize
 * now" polled to completion, the lease shared by servers (409), the approval of removals above the
 * threshold. Sources: the list with and without synchronization, test connection, search and import
 * (dry run, audit, a second import), a directory that cannot be reached (503). Roles, unknown names
 * and request validation for both.
 */
import { Client } from 'ldapts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/core/api.ts';
import { createDirectoryService, type ConfiguredSource } from '../../src/directory/directory-service.ts';
import { openldap } from '../../src/directory/presets.ts';
import { directorySource } from '../../src/directory/source.ts';
import { createSyncService, directoryLease } from '../../src/directory/sync-service.ts';
import { runDirectorySync, type SyncItem, type SyncTarget } from '../../src/directory/sync.ts';
import { systemRandom } from '../../src/platform/random.ts';
import { BASE_DN, TEST_USERS, slapdAvailable, startSlapd, type Slapd } from '../support/slapd.ts';
import { createTestApp, expectProblemShape, json } from './helpers.ts';
import type { TestApp } from './helpers.ts';

const API_OU = `ou=api-sync,${BASE_DN}`;
const API_GROUPS = `ou=api-groups,${BASE_DN}`;
const VPN = `cn=vpn-api,${API_GROUPS}`;
const system: Actor = { kind: 'system', name: 'directory-sync', role: 'admin' };
const dnOf = (n: number): string => `cn=Api User ${n},${API_OU}`;

interface Run {
  id: string;
  directory: string;
  mode: string;
  trigger: string;
  status: string;
  node: string;
  counts: Record<string, number>;
  errors: unknown[];
  pending: { username: string; action: string; reason: string }[];
  failure: string | null;
  decidedBy: string | null;
  decidedAt: number | null;
}

interface Status {
  directory: string;
  runningOn: string | null;
  lastRun: Run | null;
  awaitingApproval: string[];
  [key: string]: unknown;
}

interface Directory {
  name: string;
  sync: Status | null;
  [key: string]: unknown;
}

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('directories API without a configured directory', () => {
  it('keeps its routes: an empty list, and 404 directory_not_found for any name', async () => {
    t = await createTestApp();
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/directories', headers: t.as('helpdesk') });
    expect(list.statusCode).toBe(200);
    expect(json(list)).toEqual({ items: [] });
    for (const [method, url] of [
      ['GET', '/api/v1/directories/corp'],
      ['POST', '/api/v1/directories/corp/test'],
      ['GET', '/api/v1/directories/corp/users?ou=dc%3Dexample'],
      ['POST', '/api/v1/directories/corp/import'],
    ] as const) {
      const res = await t.app.inject({ method, url, headers: t.as('admin'), ...(method === 'POST' ? { payload: url.endsWith('import') ? { name: 'a' } : {} } : {}) });
      expect(res.statusCode, url).toBe(404);
      const p = expectProblemShape(res);
      expect(p.code).toBe('directory_not_found');
      expect(p.detail).toContain('none is configured');
    }
    for (const [method, url] of [
      ['POST', '/api/v1/directories/corp/sync'],
      ['GET', '/api/v1/directories/corp/runs'],
      ['GET', '/api/v1/directories/corp/runs/AAAA'],
      ['POST', '/api/v1/directories/corp/runs/AAAA/approve'],
    ] as const) {
      const res = await t.app.inject({ method, url, headers: t.as('admin'), ...(method === 'POST' ? { payload: {} } : {}) });
      expect(res.statusCode, url).toBe(404);
      const p = expectProblemShape(res);
      expect(p.code).toBe('directory_not_found');
      expect(p.detail).toMatch(/sync/);
    }
  });
});

describe.skipIf(!slapdAvailable())('directory synchronization API against slapd', () => {
  let slapd: Slapd;

  const items = (): SyncItem[] => [
    { name: 'vpn', scope: { kind: 'group', dn: VPN }, map: openldap, defaults: { language: 'de' } },
    { name: 'staff', scope: { kind: 'ou', dn: API_OU }, map: openldap, defaults: { language: 'en' } },
  ];

  const target = (over: Partial<SyncTarget> = {}): SyncTarget => ({
    name: 'ldap',
    source: directorySource({ urls: [slapd.url], bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.baseDn, timeoutMs: 3000 }),
    items: items(),
    policy: { scheduled: true, removal: 'disable', removalThreshold: 5, intervalMinutes: 60, fullSyncHours: 24 },
    pageSize: 3,
    changeMarker: { attribute: 'entryCSN', kind: 'text' },
    ...over,
  });

  /** An app whose synchronization service has `targets` (default: the directory "ldap"). */
  const start = async (targets: () => SyncTarget[] = () => [target()]): Promise<TestApp> => {
    t = await createTestApp({
      directorySync: (tc) =>
        createSyncService({ core: tc.core, store: tc.store, clock: tc.clock, random: systemRandom, node: 'node-a:1', targets: targets(), systemActor: system }),
    });
    return t;
  };

  const get = (app: TestApp, url: string, role: 'admin' | 'helpdesk' | 'sdk' = 'helpdesk') => app.app.inject({ method: 'GET', url, headers: app.as(role) });
  const post = (app: TestApp, url: string, payload?: unknown, role: 'admin' | 'helpdesk' | 'sdk' = 'admin') =>
    app.app.inject({ method: 'POST', url, headers: app.as(role), ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });

  /** The synchronization status of a directory, from GET /directories/{name}. */
  async function syncStatus(app: TestApp, name = 'ldap'): Promise<Status> {
    const res = await get(app, `/api/v1/directories/${name}`);
    expect(res.statusCode, res.body).toBe(200);
    const status = json<Directory>(res).sync;
    if (status === null) throw new Error(`${name} has no synchronization status`);
    return status;
  }

  /** Polls a run until it is no longer running, then until this server let go of the directory's lease. */
  async function settled(app: TestApp, location: string): Promise<Run> {
    for (let i = 0; i < 400; i++) {
      const res = await get(app, location);
      expect(res.statusCode, res.body).toBe(200);
      const run = json<Run>(res);
      if (run.status !== 'running' && (await syncStatus(app, run.directory)).runningOn === null) return run;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`run at ${location} did not finish`);
  }

  /** POST .../sync with this body (null: none), then the run once settled. */
  async function syncNow(app: TestApp, body: Record<string, unknown> | null = { mode: 'full' }): Promise<Run> {
    const res = await post(app, '/api/v1/directories/ldap/sync', body ?? undefined);
    expect(res.statusCode, res.body).toBe(202);
    const started = json<{ run: string; location: string }>(res);
    expect(res.headers['location']).toBe(`/api/v1/directories/ldap/runs/${started.run}`);
    expect(started.location).toBe(res.headers['location']);
    return settled(app, started.location);
  }

  beforeAll(async () => {
    slapd = await startSlapd({ indexes: ['entryCSN eq'] });
    const admin = new Client({ url: slapd.url });
    try {
      await admin.bind(slapd.rootDn, slapd.rootPassword);
      await admin.add(API_OU, { objectClass: 'organizationalUnit', ou: 'api-sync' });
      await admin.add(API_GROUPS, { objectClass: 'organizationalUnit', ou: 'api-groups' });
      for (let n = 1; n <= 8; n++) {
        await admin.add(dnOf(n), { objectClass: 'inetOrgPerson', cn: `Api User ${n}`, sn: `Number${n}`, uid: `api${n}`, mail: `api${n}@example.test` });
      }
      await admin.add(VPN, { objectClass: 'groupOfNames', cn: 'vpn-api', member: [dnOf(1), dnOf(2)] });
    } finally {
      await admin.unbind();
    }
  }, 60_000);

  afterAll(async () => {
    await slapd?.stop();
  });

  it('shows the synchronization status to admin and helpdesk keys, also of a directory the directory service does not list', async () => {
    // No directory service here: the synchronized directory is still listed, from its sync target.
    const app = await start();
    for (const role of ['admin', 'helpdesk'] as const) {
      const list = await get(app, '/api/v1/directories', role);
      expect(list.statusCode, list.body).toBe(200);
      const { items: all } = json<{ items: Directory[] }>(list);
      expect(all).toHaveLength(1);
      expect(all[0]).toEqual({
        name: 'ldap',
        preset: 'openldap',
        urls: [slapd.url],
        baseDn: slapd.baseDn,
        bindDn: slapd.bindDn,
        startTls: false,
        rejectUnauthorized: true,
        loginAttribute: 'uid',
        sync: expect.any(Object),
      });
      expect(list.body).not.toContain(slapd.bindPassword);
      expect(all[0]?.sync).toEqual({
        directory: 'ldap',
        scheduled: true,
        intervalMinutes: 60,
        fullSyncHours: 24,
        removal: 'disable',
        removalThreshold: 5,
        items: [
          { name: 'vpn', scope: { kind: 'group', dn: VPN } },
          { name: 'staff', scope: { kind: 'ou', dn: API_OU } },
        ],
        incremental: { attribute: 'entryCSN' },
        state: null,
        runningOn: null,
        lastRun: null,
        awaitingApproval: [],
        nextRunAt: expect.any(Number),
      });
      const one = await get(app, '/api/v1/directories/ldap', role);
      expect(one.statusCode).toBe(200);
      expect(json(one)).toEqual(all[0]);
    }
  });

  it('synchronizes on request: 202 with the run to poll, which completes with the users added', async () => {
    const app = await start();
    const run = await syncNow(app);
    expect(run).toMatchObject({ directory: 'ldap', mode: 'full', trigger: 'manual', status: 'completed', node: 'node-a:1', failure: null, pending: [] });
    expect(run.counts).toMatchObject({ seen: 8, added: 8, updated: 0, errors: 0, disabled: 0 });
    const user = json(await get(app, '/api/v1/users/api3'));
    expect(user).toMatchObject({ language: 'en', source: { kind: 'directory', directory: 'ldap' } });

    // The API key is the actor of the run in the audit trail.
    const audit = json<{ items: { actor: string; details: { run: string } }[] }>(await get(app, '/api/v1/audit-events?action=directory.sync.start', 'admin'));
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({ actor: 'apikey:test-admin', details: { run: run.id } });

    const status = (await syncStatus(app)) as Status & { state: { lastFullAt: number; cursor: { attribute: string } } };
    expect(status.lastRun?.id).toBe(run.id);
    expect(status.state).toMatchObject({ lastFullAt: app.clock.now(), cursor: { attribute: 'entryCSN' } });

    // Without a body the run is full; incremental when asked, with the cursor of the full run.
    app.clock.advance(60_000);
    const again = await syncNow(app, null);
    expect(again).toMatchObject({ mode: 'full', status: 'completed', counts: { seen: 8, added: 0, unchanged: 8 } });
    app.clock.advance(60_000);
    const incremental = await syncNow(app, { mode: 'incremental' });
    expect(incremental).toMatchObject({ mode: 'incremental', status: 'completed', counts: { added: 0, updated: 0 } });

    const runs = json<{ items: Run[] }>(await get(app, '/api/v1/directories/ldap/runs'));
    expect(runs.items.map((r) => r.id)).toEqual([incremental.id, again.id, run.id]);
    const latest = json<{ items: Run[] }>(await get(app, '/api/v1/directories/ldap/runs?limit=1'));
    expect(latest.items).toEqual([incremental]);
  });

  it('refuses to start while another server holds the directory (409 sync_running, naming it)', async () => {
    const app = await start();
    expect(await app.tc.store.leases.acquire(directoryLease('ldap'), 'other-node:1', 60_000, app.clock.now())).toBe(true);
    const res = await post(app, '/api/v1/directories/ldap/sync', { mode: 'full' });
    expect(res.statusCode).toBe(409);
    const p = expectProblemShape(res);
    expect(p.code).toBe('sync_running');
    expect(p.detail).toContain('other-node:1');
    expect((await syncStatus(app)).runningOn).toBe('other-node:1');
    expect(json<{ items: Run[] }>(await get(app, '/api/v1/directories/ldap/runs')).items).toEqual([]);
  });

  /** Users 1..8 imported with both items, then only the group's item: 6 users leave the scope (threshold 5). */
  async function heldRun(removal: 'disable' | 'delete' = 'disable'): Promise<{ app: TestApp; run: Run }> {
    const wide = target();
    const app = await start(() => [{ ...wide, items: [items()[0] as SyncItem], policy: { ...wide.policy, removal } }]);
    const deps = { core: app.core, store: app.tc.store, clock: app.clock, random: systemRandom, actor: system, node: 'node-a:1' };
    expect((await runDirectorySync(deps, wide, { mode: 'full', trigger: 'manual' })).counts.added).toBe(8);
    app.clock.advance(60_000);
    const run = await syncNow(app);
    expect(run.status).toBe('awaiting_approval');
    expect(run.counts).toMatchObject({ disabled: 0, removed: 0 });
    expect(run.pending.map((p) => p.username).sort()).toEqual(['api3', 'api4', 'api5', 'api6', 'api7', 'api8']);
    expect(run.pending[0]).toMatchObject({ action: removal, reason: 'left_scope' });
    expect((await syncStatus(app)).awaitingApproval).toEqual([run.id]);
    return { app, run };
  }

  it('applies the held removals once when an admin key approves them', async () => {
    const { app, run } = await heldRun();
    const url = `/api/v1/directories/ldap/runs/${run.id}`;
    const refused = await post(app, `${url}/approve`, {}, 'helpdesk');
    expect(refused.statusCode).toBe(403);
    expect(expectProblemShape(refused).code).toBe('forbidden');
    expect(json(await get(app, '/api/v1/users/api3'))).toMatchObject({ state: 'enabled' });

    const approved = await post(app, `${url}/approve`);
    expect(approved.statusCode, approved.body).toBe(200);
    expect(json<Run>(approved)).toMatchObject({
      id: run.id,
      status: 'approved',
      decidedBy: 'apikey:test-admin',
      decidedAt: app.clock.now(),
      counts: { disabled: 6 },
    });
    for (const name of ['api3', 'api8']) expect(json(await get(app, `/api/v1/users/${name}`))).toMatchObject({ state: 'disabled' });
    for (const name of ['api1', 'api2']) expect(json(await get(app, `/api/v1/users/${name}`))).toMatchObject({ state: 'enabled' });
    expect(json<Run>(await get(app, url))).toMatchObject({ status: 'approved', counts: { disabled: 6 } });
    expect((await syncStatus(app)).awaitingApproval).toEqual([]);

    for (const decision of ['approve', 'reject']) {
      const again = await post(app, `${url}/${decision}`);
      expect(again.statusCode).toBe(409);
      expect(expectProblemShape(again).code).toBe('not_awaiting_approval');
    }
    const audit = json<{ items: { actor: string }[] }>(await get(app, '/api/v1/audit-events?action=directory.sync.approve'));
    expect(audit.items.map((e) => e.actor)).toEqual(['apikey:test-admin']);
  });

  it('changes nobody when an admin key rejects the held removals, with or without a body', async () => {
    const { app, run } = await heldRun('delete');
    const rejected = await post(app, `/api/v1/directories/ldap/runs/${run.id}/reject`);
    expect(rejected.statusCode, rejected.body).toBe(200);
    expect(json<Run>(rejected)).toMatchObject({ status: 'rejected', decidedBy: 'apikey:test-admin', counts: { disabled: 0, removed: 0 } });
    for (let n = 1; n <= 8; n++) expect(json(await get(app, `/api/v1/users/api${n}`))).toMatchObject({ state: 'enabled' });
    const late = await post(app, `/api/v1/directories/ldap/runs/${run.id}/approve`, {});
    expect(expectProblemShape(late).code).toBe('not_awaiting_approval');
  });

  it('lets helpdesk keys read but not start or decide, and sdk keys nothing (403)', async () => {
    const app = await start();
    const run = await syncNow(app);
    const reads = ['/api/v1/directories', '/api/v1/directories/ldap', '/api/v1/directories/ldap/runs', `/api/v1/directories/ldap/runs/${run.id}`];
    for (const url of reads) expect((await get(app, url, 'helpdesk')).statusCode, url).toBe(200);
    const writes = ['/api/v1/directories/ldap/sync', `/api/v1/directories/ldap/runs/${run.id}/approve`, `/api/v1/directories/ldap/runs/${run.id}/reject`];
    for (const url of writes) {
      const res = await post(app, url, {}, 'helpdesk');
      expect(res.statusCode, url).toBe(403);
      expect(expectProblemShape(res).code).toBe('forbidden');
    }
    for (const url of reads) {
      const res = await get(app, url, 'sdk');
      expect(res.statusCode, url).toBe(403);
      expect(expectProblemShape(res).code).toBe('forbidden');
    }
    for (const url of writes) {
      const res = await post(app, url, {}, 'sdk');
      expect(res.statusCode, url).toBe(403);
      expect(expectProblemShape(res).code).toBe('forbidden');
    }
    expect(json<{ items: Run[] }>(await get(app, '/api/v1/directories/ldap/runs')).items).toHaveLength(1);
  });

  it('answers 404 for an unknown directory (directory_not_found) and an unknown run (run_not_found)', async () => {
    const app = await start();
    for (const res of [
      await get(app, '/api/v1/directories/nope'),
      await get(app, '/api/v1/directories/nope/runs'),
      await get(app, '/api/v1/directories/nope/runs/AAAA'),
      await post(app, '/api/v1/directories/nope/sync', { mode: 'full' }),
      await post(app, '/api/v1/directories/nope/runs/AAAA/approve'),
    ]) {
      expect(res.statusCode).toBe(404);
      const p = expectProblemShape(res);
      expect(p.code).toBe('directory_not_found');
      expect(p.detail).toContain('ldap');
    }
    for (const res of [
      await get(app, '/api/v1/directories/ldap/runs/AAAA'),
      await post(app, '/api/v1/directories/ldap/runs/AAAA/approve'),
      await post(app, '/api/v1/directories/ldap/runs/AAAA/reject', {}),
    ]) {
      expect(res.statusCode).toBe(404);
      expect(expectProblemShape(res).code).toBe('run_not_found');
    }
  });

  it('refuses a bad mode, body field or limit with 400 naming the field', async () => {
    const app = await start();
    const mode = await post(app, '/api/v1/directories/ldap/sync', { mode: 'partial' });
    expect(mode.statusCode).toBe(400);
    expect(expectProblemShape(mode)).toMatchObject({
      code: 'validation_failed',
      errors: [{ field: 'mode', in: 'body', message: 'must be one of: "full", "incremental"' }],
    });
    const extra = await post(app, '/api/v1/directories/ldap/sync', { mode: 'full', force: true });
    expect(expectProblemShape(extra).errors).toEqual([{ field: 'force', in: 'body', message: 'is not allowed' }]);
    for (const limit of ['0', '101', 'ten']) {
      const res = await get(app, `/api/v1/directories/ldap/runs?limit=${limit}`);
      expect(res.statusCode, limit).toBe(400);
      expect(expectProblemShape(res).errors?.map((e) => [e.in, e.field])).toEqual([['query', 'limit']]);
    }
    const decision = await post(app, '/api/v1/directories/ldap/runs/AAAA/approve', { reason: 'x' });
    expect(expectProblemShape(decision).errors).toEqual([{ field: 'reason', in: 'body', message: 'is not allowed' }]);
    // Nothing was started.
    expect(json<{ items: Run[] }>(await get(app, '/api/v1/directories/ldap/runs')).items).toEqual([]);
  });
});

describe.skipIf(!slapdAvailable())('directory sources API against slapd', () => {
  const PEOPLE = `ou=people,${BASE_DN}`;
  const GROUPS = `ou=api-source-groups,${BASE_DN}`;
  const VPN_GROUP = `cn=vpn,${GROUPS}`;
  const WRONG_PASSWORD = 'not-the-password-7f3a';
  const DEAD_URL = 'ldap://127.0.0.1:1';
  let slapd: Slapd;

  interface DirectoryUserJson {
    username: string;
    displayName: string | null;
    email: string | null;
    disabled: boolean;
    externalId: string;
    dn: string;
    warnings: string[];
  }
  interface SearchJson {
    users: DirectoryUserJson[];
    skipped: { dn: string; message: string }[];
  }
  interface ImportJson {
    dryRun: boolean;
    total: number;
    created: number;
    updated: number;
    unchanged: number;
    disabled: number;
    errors: { dn: string; username: string; code: string; message: string }[];
    warnings: unknown[];
    skipped: unknown[];
  }
  interface Attempt {
    url: string;
    ok: boolean;
    stage?: string;
    code?: string | number;
    message?: string;
  }

  /** ldap (synchronized), plain (the same directory, not synchronized), badpass (wrong service password), dead (nothing listens). */
  const sources = (): ConfiguredSource[] => {
    const source = (urls: string[], bindPassword = slapd.bindPassword) =>
      directorySource({ urls, bindDn: slapd.bindDn, bindPassword, baseDn: slapd.baseDn, timeoutMs: 3000 });
    return [
      { name: 'ldap', preset: 'openldap', source: source([slapd.url]), map: openldap, pageSize: 2 },
      { name: 'plain', preset: 'openldap', source: source([slapd.url]), map: openldap, pageSize: 500 },
      { name: 'badpass', preset: 'openldap', source: source([slapd.url], WRONG_PASSWORD), map: openldap, pageSize: 500 },
      { name: 'dead', preset: 'openldap', source: source([DEAD_URL]), map: openldap, pageSize: 500 },
    ];
  };

  const start = async (): Promise<TestApp> => {
    const ldap = sources()[0] as ConfiguredSource;
    const target: SyncTarget = {
      name: 'ldap',
      source: ldap.source,
      items: [{ name: 'people', scope: { kind: 'ou', dn: PEOPLE }, map: openldap, defaults: {} }],
      policy: { scheduled: false, removal: 'disable', removalThreshold: 5, intervalMinutes: 60, fullSyncHours: 24 },
      pageSize: 2,
      changeMarker: null,
    };
    t = await createTestApp({
      directories: (tc) => createDirectoryService({ core: tc.core, store: tc.store, sources: sources() }),
      directorySync: (tc) =>
        createSyncService({ core: tc.core, store: tc.store, clock: tc.clock, random: systemRandom, node: 'node-a:1', targets: [target], systemActor: system }),
    });
    return t;
  };

  const get = (app: TestApp, url: string, role: 'admin' | 'helpdesk' | 'sdk' = 'helpdesk') => app.app.inject({ method: 'GET', url, headers: app.as(role) });
  const post = (app: TestApp, url: string, payload?: unknown, role: 'admin' | 'helpdesk' | 'sdk' = 'admin') =>
    app.app.inject({ method: 'POST', url, headers: app.as(role), ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  const users = (app: TestApp, directory: string, query: string, role: 'admin' | 'helpdesk' | 'sdk' = 'helpdesk') => get(app, `/api/v1/directories/${directory}/users?${query}`, role);
  const q = (params: Record<string, string>): string => new URLSearchParams(params).toString();
  const names = (found: SearchJson): string[] => found.users.map((u) => u.username).sort();

  beforeAll(async () => {
    slapd = await startSlapd();
    const admin = new Client({ url: slapd.url });
    try {
      await admin.bind(slapd.rootDn, slapd.rootPassword);
      await admin.add(GROUPS, { objectClass: 'organizationalUnit', ou: 'api-source-groups' });
      await admin.add(VPN_GROUP, { objectClass: 'groupOfNames', cn: 'vpn', member: [`uid=alice,${PEOPLE}`, `uid=bob,${PEOPLE}`] });
    } finally {
      await admin.unbind();
    }
  }, 60_000);

  afterAll(async () => {
    await slapd?.stop();
  });

  it('lists every configured source, never a password, with its synchronization status or sync: null', async () => {
    const app = await start();
    const list = await get(app, '/api/v1/directories');
    expect(list.statusCode, list.body).toBe(200);
    const { items } = json<{ items: Directory[] }>(list);
    expect(items.map((d) => d.name)).toEqual(['ldap', 'plain', 'badpass', 'dead']);
    expect(items[0]).toMatchObject({ name: 'ldap', preset: 'openldap', urls: [slapd.url], bindDn: slapd.bindDn, loginAttribute: 'uid', sync: { directory: 'ldap', scheduled: false } });
    expect(items[1]).toEqual({
      name: 'plain',
      preset: 'openldap',
      urls: [slapd.url],
      baseDn: slapd.baseDn,
      bindDn: slapd.bindDn,
      startTls: false,
      rejectUnauthorized: true,
      loginAttribute: 'uid',
      sync: null,
    });
    expect(items[3]?.urls).toEqual([DEAD_URL]);
    for (const secret of [slapd.bindPassword, WRONG_PASSWORD]) expect(list.body).not.toContain(secret);

    expect(json<Directory>(await get(app, '/api/v1/directories/plain'))).toEqual(items[1]);
    expect(json<Directory>(await get(app, '/api/v1/directories/ldap')).sync).toMatchObject({ directory: 'ldap', lastRun: null });
    const unknown = await get(app, '/api/v1/directories/nope');
    expect(unknown.statusCode).toBe(404);
    const p = expectProblemShape(unknown);
    expect(p.code).toBe('directory_not_found');
    expect(p.detail).toContain('ldap, plain, badpass, dead');
    // A source without a sync block has no synchronization.
    expect(expectProblemShape(await post(app, '/api/v1/directories/plain/sync', { mode: 'full' })).code).toBe('directory_not_found');
  });

  it('tests a connection: 200 with the report whether it works or not, never the password', async () => {
    const app = await start();
    const good = await post(app, '/api/v1/directories/ldap/test');
    expect(good.statusCode, good.body).toBe(200);
    expect(json(good)).toEqual({ ok: true, url: slapd.url, attempts: [{ url: slapd.url, ok: true }] });

    const bad = await post(app, '/api/v1/directories/badpass/test', {});
    expect(bad.statusCode, bad.body).toBe(200);
    expect(json(bad)).toMatchObject({ ok: false, attempts: [{ url: slapd.url, ok: false, stage: 'bind', code: 49 }] });
    expect(json(bad)).not.toHaveProperty('url');
    expect(bad.body).not.toContain(WRONG_PASSWORD);
    expect(bad.body).not.toContain(slapd.bindPassword);

    const dead = await post(app, '/api/v1/directories/dead/test');
    expect(json(dead)).toMatchObject({ ok: false, attempts: [{ url: DEAD_URL, ok: false, stage: 'connect', code: 'ECONNREFUSED' }] });

    expect(expectProblemShape(await post(app, '/api/v1/directories/nope/test')).code).toBe('directory_not_found');
    const extra = await post(app, '/api/v1/directories/ldap/test', { force: true });
    expect(expectProblemShape(extra).errors).toEqual([{ field: 'force', in: 'body', message: 'is not allowed' }]);
  });

  it('searches users by OU, group and name, as they would be imported', async () => {
    const app = await start();
    const byOu = await users(app, 'ldap', q({ ou: PEOPLE }));
    expect(byOu.statusCode, byOu.body).toBe(200);
    const found = json<SearchJson>(byOu);
    // Paged by 2 (pageSize of the source): every user of the OU arrives.
    expect(names(found)).toEqual(['alice', 'bob', 'carol', 'dave', 'dup']);
    expect(found.skipped).toEqual([]);
    expect(found.users.find((u) => u.username === 'alice')).toEqual({
      username: 'alice',
      displayName: 'Alice Anders',
      email: 'alice@example.test',
      disabled: false,
      externalId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      dn: `uid=alice,${PEOPLE}`,
      warnings: [],
    });
    expect(found.users.find((u) => u.username === 'dave')?.disabled).toBe(true);

    expect(names(json<SearchJson>(await users(app, 'ldap', q({ group: VPN_GROUP }))))).toEqual(['alice', 'bob']);
    // The name is searched under the base DN: both accounts named dup, in two OUs.
    const dup = json<SearchJson>(await users(app, 'ldap', q({ name: 'dup' })));
    expect(dup.users.map((u) => u.email).sort()).toEqual(TEST_USERS.filter((u) => u.uid === 'dup').map((u) => u.mail));
    expect(names(json<SearchJson>(await users(app, 'ldap', q({ name: 'CHEN' }))))).toEqual(['carol']);
    expect(json<SearchJson>(await users(app, 'ldap', q({ ou: PEOPLE, limit: '2' }))).users).toHaveLength(2);
    // Values are escaped into the filter, never interpreted.
    expect(json<SearchJson>(await users(app, 'ldap', q({ name: '*)(uid=*' }))).users).toEqual([]);

    // Nothing was written.
    expect(json<{ items: unknown[] }>(await get(app, '/api/v1/users', 'admin')).items).toEqual([]);
  });

  it('refuses a search or import without exactly one of ou, group or name (400 naming the fields)', async () => {
    const app = await start();
    const none = await users(app, 'ldap', '');
    expect(none.statusCode).toBe(400);
    expect(expectProblemShape(none)).toMatchObject({
      code: 'validation_failed',
      errors: [
        { field: 'ou', in: 'query', message: 'one of ou, group or name is required' },
        { field: 'group', in: 'query', message: 'one of ou, group or name is required' },
        { field: 'name', in: 'query', message: 'one of ou, group or name is required' },
      ],
    });
    const two = await users(app, 'ldap', q({ ou: PEOPLE, name: 'alice' }));
    expect(two.statusCode).toBe(400);
    expect(expectProblemShape(two).errors).toEqual([
      { field: 'ou', in: 'query', message: 'only one of ou, group or name may be given' },
      { field: 'name', in: 'query', message: 'only one of ou, group or name may be given' },
    ]);
    for (const body of [{}, { ou: PEOPLE, group: VPN_GROUP }, { dryRun: true }]) {
      const res = await post(app, '/api/v1/directories/ldap/import', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(expectProblemShape(res).errors?.every((e) => e.in === 'body' && ['ou', 'group', 'name'].includes(e.field))).toBe(true);
    }
    for (const [query, field] of [
      ['limit=0', 'limit'],
      [`${q({ ou: PEOPLE })}&limit=1001`, 'limit'],
      [`${q({ ou: PEOPLE })}&sort=name`, 'sort'],
      [q({ name: 'x'.repeat(129) }), 'name'],
      // Refused by the search itself (blank, control characters), in the request's terms.
      [q({ name: '   ' }), 'name'],
      [q({ ou: `ou=people\u0001,${BASE_DN}` }), 'ou'],
      // Refused by the directory: no such entry, not a DN.
      [q({ ou: `ou=nobody,${BASE_DN}` }), 'ou'],
      [q({ ou: 'not a dn' }), 'ou'],
    ] as const) {
      const res = await users(app, 'ldap', query);
      expect(res.statusCode, `${query}: ${res.body}`).toBe(400);
      expect(expectProblemShape(res).errors?.map((e) => [e.in, e.field]), query).toEqual([['query', field]]);
    }
    for (const [body, field] of [
      [{ ou: PEOPLE, language: 'not a language' }, 'language'],
      [{ ou: PEOPLE, defaultMethod: 'fax' }, 'defaultMethod'],
      [{ ou: PEOPLE, dryRun: 'yes' }, 'dryRun'],
      [{ ou: PEOPLE, limit: 5 }, 'limit'],
      [{ ou: `ou=nobody,${BASE_DN}` }, 'ou'],
    ] as const) {
      const res = await post(app, '/api/v1/directories/ldap/import', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(expectProblemShape(res).errors?.map((e) => [e.in, e.field])).toEqual([['body', field]]);
    }
    expect(json<{ items: unknown[] }>(await get(app, '/api/v1/users', 'admin')).items).toEqual([]);
  });

  it('imports: a dry run writes nothing, then users are created (dave disabled) and audited, and a second import changes nothing', async () => {
    const app = await start();
    const expected = { total: 5, created: 5, updated: 0, unchanged: 0, disabled: 1, errors: [], warnings: [], skipped: [] };
    const dry = await post(app, '/api/v1/directories/ldap/import', { ou: PEOPLE, dryRun: true });
    expect(dry.statusCode, dry.body).toBe(200);
    expect(json(dry)).toEqual({ dryRun: true, ...expected });
    expect((await get(app, '/api/v1/users/alice', 'admin')).statusCode).toBe(404);
    expect(json<{ items: unknown[] }>(await get(app, '/api/v1/audit-events?action=user.create')).items).toEqual([]);

    const first = await post(app, '/api/v1/directories/ldap/import', { ou: PEOPLE, language: 'de', defaultMethod: 'totp' });
    expect(first.statusCode, first.body).toBe(200);
    expect(json(first)).toEqual({ dryRun: false, ...expected });
    expect(json(await get(app, '/api/v1/users/alice'))).toMatchObject({
      displayName: 'Alice Anders',
      email: 'alice@example.test',
      language: 'de',
      defaultMethod: 'totp',
      state: 'enabled',
      source: { kind: 'directory', directory: 'ldap' },
    });
    expect(json(await get(app, '/api/v1/users/dave'))).toMatchObject({ status: 'disabled', state: 'disabled' });
    const audit = json<{ items: { actor: string; username: string }[] }>(await get(app, '/api/v1/audit-events?action=user.create'));
    expect(audit.items.map((e) => e.username).sort()).toEqual(['alice', 'bob', 'carol', 'dave', 'dup']);
    expect(new Set(audit.items.map((e) => e.actor))).toEqual(new Set(['apikey:test-admin']));

    app.clock.advance(60_000);
    const second = await post(app, '/api/v1/directories/ldap/import', { ou: PEOPLE });
    expect(json(second)).toEqual({ dryRun: false, total: 5, created: 0, updated: 0, unchanged: 5, disabled: 0, errors: [], warnings: [], skipped: [] });

    // The other dup (another entry, another id) never takes over the imported one.
    const dup = json<ImportJson>(await post(app, '/api/v1/directories/ldap/import', { name: 'dup' }));
    expect(dup).toMatchObject({ total: 2, created: 0, unchanged: 1 });
    expect(dup.errors).toMatchObject([{ username: 'dup', code: 'source_conflict', dn: `uid=dup,ou=contractors,${BASE_DN}` }]);
    expect(json(await get(app, '/api/v1/users/dup'))).toMatchObject({ email: 'dup1@example.test' });
  });

  it('answers 503 directory_unavailable with the attempts when the directory cannot be used, never the password', async () => {
    const app = await start();
    const dead = await users(app, 'dead', q({ ou: PEOPLE }));
    expect(dead.statusCode).toBe(503);
    const p = expectProblemShape(dead) as ReturnType<typeof expectProblemShape> & { attempts: Attempt[] };
    expect(p.code).toBe('directory_unavailable');
    expect(p.detail).toContain(DEAD_URL);
    expect(p.attempts).toMatchObject([{ url: DEAD_URL, ok: false, stage: 'connect', code: 'ECONNREFUSED' }]);

    const bad = await post(app, '/api/v1/directories/badpass/import', { ou: PEOPLE });
    expect(bad.statusCode).toBe(503);
    const q2 = expectProblemShape(bad) as ReturnType<typeof expectProblemShape> & { attempts: Attempt[] };
    expect(q2.code).toBe('directory_unavailable');
    expect(q2.attempts).toMatchObject([{ url: slapd.url, ok: false, stage: 'bind', code: 49 }]);
    expect(bad.body).not.toContain(WRONG_PASSWORD);
    expect(json<{ items: unknown[] }>(await get(app, '/api/v1/users', 'admin')).items).toEqual([]);
  });

  it('lets helpdesk keys list and search but not test or import, and sdk keys nothing (403)', async () => {
    const app = await start();
    const reads = ['/api/v1/directories', '/api/v1/directories/plain', `/api/v1/directories/plain/users?${q({ name: 'alice' })}`];
    for (const url of reads) expect((await get(app, url, 'helpdesk')).statusCode, url).toBe(200);
    const writes: [string, Record<string, unknown>][] = [
      ['/api/v1/directories/plain/test', {}],
      ['/api/v1/directories/plain/import', { ou: PEOPLE }],
    ];
    for (const role of ['helpdesk', 'sdk'] as const) {
      for (const [url, body] of writes) {
        const res = await post(app, url, body, role);
        expect(res.statusCode, `${role} ${url}`).toBe(403);
        expect(expectProblemShape(res).code).toBe('forbidden');
      }
    }
    for (const url of reads) {
      const res = await get(app, url, 'sdk');
      expect(res.statusCode, url).toBe(403);
      expect(expectProblemShape(res).code).toBe('forbidden');
    }
    expect(json<{ items: unknown[] }>(await get(app, '/api/v1/users', 'admin')).items).toEqual([]);
  });
});
