/**
 * Directory synchronization against a real slapd: adds, updates, renames, disables, re-enables and
 * removes; the approval threshold; incremental runs by entryCSN; fail-over and StartTLS; a run
 * aborted half-way and run again; two servers sharing one database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Attribute, Change, Client } from 'ldapts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/core/api.ts';
import type { Store } from '../../src/core/ports.ts';
import type { User } from '../../src/core/types.ts';
import { openldap, activeDirectory, withOverrides } from '../../src/directory/presets.ts';
import { directorySource } from '../../src/directory/source.ts';
import { createSyncService, directoryLease, SyncServiceError } from '../../src/directory/sync-service.ts';
import { decideSyncRun, runDirectorySync, SyncApprovalError, type SyncDeps, type SyncItem, type SyncTarget } from '../../src/directory/sync.ts';
import { systemRandom } from '../../src/platform/random.ts';
import { openStore } from '../../src/store/index.ts';
import { createTestCore, type TestCore } from '../support/harness.ts';
import { AD_OU, BASE_DN, slapdAvailable, startSlapd, type Slapd } from '../support/slapd.ts';

const haveSlapd = slapdAvailable();
const SYNC_OU = `ou=sync,${BASE_DN}`;
const GONE_OU = `ou=gone,${BASE_DN}`;
const VPN = `cn=vpn-sync,ou=groups-sync,${BASE_DN}`;
const system: Actor = { kind: 'system', name: 'directory-sync', role: 'admin' };

const dnOf = (n: number): string => `cn=User ${n},${SYNC_OU}`;

function userEntry(n: number): Record<string, string | string[]> {
  return {
    objectClass: 'inetOrgPerson',
    cn: `User ${n}`,
    sn: `Number${n}`,
    uid: `user${n}`,
    mail: `user${n}@example.test`,
    mobile: `+1415555${String(1000 + n)}`,
  };
}

describe.skipIf(!haveSlapd)('directory synchronization against slapd', () => {
  let slapd: Slapd;
  let admin: Client;
  let t: TestCore;
  let deps: SyncDeps;

  const source = (over: Partial<Parameters<typeof directorySource>[0]> = {}) =>
    directorySource({ urls: [slapd.url], bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.baseDn, timeoutMs: 3000, ...over });

  const items = (): SyncItem[] => [
    { name: 'vpn', scope: { kind: 'group', dn: VPN }, map: openldap, defaults: { language: 'de', defaultMethod: 'totp' } },
    { name: 'staff', scope: { kind: 'ou', dn: SYNC_OU }, map: openldap, defaults: { language: 'en' } },
  ];

  const target = (over: Partial<SyncTarget> = {}, policy: Partial<SyncTarget['policy']> = {}): SyncTarget => ({
    name: 'ldap',
    source: source(),
    items: items(),
    policy: { scheduled: true, removal: 'disable', removalThreshold: 5, intervalMinutes: 60, fullSyncHours: 24, ...policy },
    pageSize: 3,
    changeMarker: { attribute: 'entryCSN', kind: 'text' },
    ...over,
  });

  const user = (username: string): Promise<User | undefined> => t.store.users.getByUsername(username);
  const directoryUsers = async (): Promise<User[]> => (await t.store.users.list({ limit: 1000 })).items.filter((u) => u.source.kind === 'directory');
  const modify = (dn: string, attribute: string, values: string[], operation: 'replace' | 'delete' | 'add' = 'replace') =>
    admin.modify(dn, new Change({ operation, modification: new Attribute({ type: attribute, values }) }));

  beforeAll(async () => {
    slapd = await startSlapd({ indexes: ['entryCSN eq'] });
    admin = new Client({ url: slapd.url });
    await admin.bind(slapd.rootDn, slapd.rootPassword);
    await admin.add(SYNC_OU, { objectClass: 'organizationalUnit', ou: 'sync' });
    await admin.add(GONE_OU, { objectClass: 'organizationalUnit', ou: 'gone' });
    await admin.add(`ou=groups-sync,${BASE_DN}`, { objectClass: 'organizationalUnit', ou: 'groups-sync' });
    for (let n = 1; n <= 8; n++) await admin.add(dnOf(n), userEntry(n));
    await admin.add(VPN, { objectClass: 'groupOfNames', cn: 'vpn-sync', member: [dnOf(1), dnOf(2)] });
  }, 60_000);

  afterAll(async () => {
    await admin?.unbind();
    await slapd?.stop();
  });

  beforeEach(async () => {
    await t?.close();
    t = await createTestCore();
    deps = { core: t.core, store: t.store, clock: t.clock, random: systemRandom, actor: system, node: 'node-a:1' };
  });

  it('adds every user once, by item priority, then a resync of an unchanged directory writes nothing', async () => {
    const first = await runDirectorySync(deps, target(), { mode: 'full', trigger: 'manual' });
    expect(first).toMatchObject({ status: 'completed', mode: 'full', counts: { seen: 8, added: 8, updated: 0, errors: 0, disabled: 0, removed: 0 } });
    expect((await directoryUsers()).length).toBe(8);
    // user1 and user2 are in the vpn group (first item): its defaults win over the OU's.
    expect(await user('user1')).toMatchObject({ language: 'de', defaultMethod: 'totp', email: 'user1@example.test', phone: { number: '+14155551001' } });
    expect(await user('user3')).toMatchObject({ language: 'en', defaultMethod: null });

    const before = await t.store.audit.query({ limit: 1000 });
    const snapshot = JSON.stringify(await directoryUsers());
    t.clock.advance(60_000);
    const again = await runDirectorySync(deps, target(), { mode: 'full', trigger: 'manual' });
    expect(again.counts).toMatchObject({ seen: 8, added: 0, updated: 0, unchanged: 8, disabled: 0, removed: 0 });
    expect(JSON.stringify(await directoryUsers())).toBe(snapshot);
    const after = await t.store.audit.query({ limit: 1000 });
    // Only the run's own start and finish events.
    expect(after.length - before.length).toBe(2);
    expect(
      after
        .slice(0, 2)
        .map((e) => e.action)
        .sort(),
    ).toEqual(['directory.sync.finish', 'directory.sync.start']);
  });

  it('updates changed attributes and follows a renamed login without a duplicate', async () => {
    await runDirectorySync(deps, target(), { mode: 'full', trigger: 'manual' });
    const id = (await user('user4'))?.id;
    await modify(dnOf(4), 'uid', ['user4-renamed']);
    await modify(dnOf(5), 'mail', ['five@example.test']);
    const run = await runDirectorySync(deps, target(), { mode: 'full', trigger: 'manual' });
    expect(run.counts).toMatchObject({ added: 0, updated: 2, unchanged: 6, errors: 0 });
    expect(await user('user4')).toBeUndefined();
    expect((await user('user4-renamed'))?.id).toBe(id);
    expect(await user('user5')).toMatchObject({ email: 'five@example.test' });
    expect((await directoryUsers()).length).toBe(8);
    await modify(dnOf(4), 'uid', ['user4']);
    await modify(dnOf(5), 'mail', ['user5@example.test']);
  });

  it('disables a user whose account is disabled in the directory and re-enables them when it is enabled again', async () => {
    await runDirectorySync(deps, target(), { mode: 'full', trigger: 'manual' });
    // An administrator's own decision is never undone by the sync.
    await t.core.users.setEnabled('user7', false, system);
    await modify(dnOf(6), 'pwdAccountLockedTime', ['000001010000Z'], 'add');
    const disabled = await runDirectorySync(deps, target(), { mode: 'full', trigger: 'manual' });
    expect(disabled.counts).toMatchObject({ disabled: 1, enabled: 0 });
    expect(await user('user6')).toMatchObject({ status: 'disabled' });

    await modify(dnOf(6), 'pwdAccountLockedTime', [], 'delete');
    const enabled = await runDirectorySync(deps, target(), { mode: 'full', trigger: 'manual' });
    expect(enabled.counts).toMatchObject({ disabled: 0, enabled: 1 });
    expect(await user('user6')).toMatchObject({ status: 'enabled' });
    expect(await user('user7')).toMatchObject({ status: 'disabled' });
  });

  it('disables or deletes users who left the scope, as configured', async () => {
    await runDirectorySync(deps, target({}, { removal: 'delete' }), { mode: 'full', trigger: 'manual' });
    // Out of every item: moved to another OU (and out of the group).
    await admin.modifyDN(dnOf(8), `cn=User 8,${GONE_OU}`);
    const removed = await runDirectorySync(deps, target({}, { removal: 'delete' }), { mode: 'full', trigger: 'manual' });
    expect(removed.counts).toMatchObject({ removed: 1, disabled: 0 });
    expect(await user('user8')).toBeUndefined();
    await admin.modifyDN(`cn=User 8,${GONE_OU}`, dnOf(8));

    await runDirectorySync(deps, target(), { mode: 'full', trigger: 'manual' });
    expect(await user('user8')).toMatchObject({ status: 'enabled' });
    await admin.modifyDN(dnOf(8), `cn=User 8,${GONE_OU}`);
    const disabled = await runDirectorySync(deps, target(), { mode: 'full', trigger: 'manual' });
    expect(disabled.counts).toMatchObject({ removed: 0, disabled: 1 });
    expect(await user('user8')).toMatchObject({ status: 'disabled' });
    // Back in scope: the sync disabled them, so the sync enables them again.
    await admin.modifyDN(`cn=User 8,${GONE_OU}`, dnOf(8));
    const back = await runDirectorySync(deps, target(), { mode: 'full', trigger: 'manual' });
    expect(back.counts).toMatchObject({ enabled: 1, added: 0 });
    expect(await user('user8')).toMatchObject({ status: 'enabled' });
  });

  it('holds more removals than the threshold, audits it, and applies exactly the approved list once', async () => {
    await runDirectorySync(deps, target(), { mode: 'full', trigger: 'manual' });
    const narrowed = target({ items: [items()[0] as SyncItem] }, { removalThreshold: 5 });
    const held = await runDirectorySync(deps, narrowed, { mode: 'full', trigger: 'schedule' });
    expect(held).toMatchObject({ status: 'awaiting_approval', counts: { disabled: 0, removed: 0 } });
    expect(held.pending.map((p) => p.username).sort()).toEqual(['user3', 'user4', 'user5', 'user6', 'user7', 'user8']);
    for (const name of ['user3', 'user8']) expect(await user(name)).toMatchObject({ status: 'enabled' });
    const events = await t.store.audit.query({ limit: 50 });
    expect(events.find((e) => e.action === 'directory.sync.approval_required')?.details).toMatchObject({ pending: 6, threshold: 5 });

    // A second run supersedes the first list; the first can no longer be approved.
    const newer = await runDirectorySync(deps, narrowed, { mode: 'full', trigger: 'schedule' });
    expect((await t.store.directorySync.getRun(held.id))?.status).toBe('superseded');
    await expect(decideSyncRun(deps, narrowed, held.id, 'approve')).rejects.toMatchObject({ code: 'not_awaiting_approval' });

    const approver: Actor = { kind: 'apikey', name: 'alice-admin', role: 'admin' };
    const approved = await decideSyncRun({ ...deps, actor: approver }, narrowed, newer.id, 'approve');
    expect(approved).toMatchObject({ status: 'approved', decidedBy: 'apikey:alice-admin', counts: { disabled: 6 } });
    for (const name of ['user3', 'user4', 'user8']) expect(await user(name)).toMatchObject({ status: 'disabled' });
    expect(await user('user1')).toMatchObject({ status: 'enabled' });
    await expect(decideSyncRun(deps, narrowed, newer.id, 'approve')).rejects.toBeInstanceOf(SyncApprovalError);
    const approval = (await t.store.audit.query({ limit: 50 })).find((e) => e.action === 'directory.sync.approve');
    expect(approval).toMatchObject({ actor: 'apikey:alice-admin', details: { disabled: 6 } });
  });

  it('a rejected list changes nobody and is audited', async () => {
    await runDirectorySync(deps, target(), { mode: 'full', trigger: 'manual' });
    const narrowed = target({ items: [items()[0] as SyncItem] }, { removal: 'delete' });
    const held = await runDirectorySync(deps, narrowed, { mode: 'full', trigger: 'schedule' });
    expect(held.status).toBe('awaiting_approval');
    const rejected = await decideSyncRun(deps, narrowed, held.id, 'reject');
    expect(rejected.status).toBe('rejected');
    expect((await directoryUsers()).filter((u) => u.status === 'enabled').length).toBe(8);
    expect((await t.store.audit.query({ limit: 10 })).some((e) => e.action === 'directory.sync.reject')).toBe(true);
  });

  it('incremental runs read only entries changed since the last run', async () => {
    const full = await runDirectorySync(deps, target(), { mode: 'full', trigger: 'manual' });
    expect((await t.store.directorySync.getState('ldap'))?.cursor).toMatchObject({ attribute: 'entryCSN', url: slapd.url });
    expect(full.mode).toBe('full');
    // entryCSN has microsecond resolution; a new change sorts after the cursor.
    await new Promise((r) => setTimeout(r, 5));
    await modify(dnOf(3), 'mail', ['three@example.test']);
    const inc = await runDirectorySync(deps, target(), { mode: 'incremental', trigger: 'schedule' });
    expect(inc.mode).toBe('incremental');
    // The group item is expanded by the client (2 entries, unchanged); the OU item returns only
    // entries at or after the cursor.
    expect(inc.counts.seen).toBeLessThan(8);
    expect(inc.counts).toMatchObject({ updated: 1, added: 0, removed: 0, disabled: 0 });
    expect(await user('user3')).toMatchObject({ email: 'three@example.test' });
    await modify(dnOf(3), 'mail', ['user3@example.test']);
  });

  it('fails over to the backup URL and speaks StartTLS with certificate checking', async () => {
    const tls = target({ source: source({ urls: ['ldap://127.0.0.1:1', slapd.url], startTls: true, caPem: slapd.caPem }) });
    const run = await runDirectorySync(deps, tls, { mode: 'full', trigger: 'manual' });
    expect(run).toMatchObject({ status: 'completed', counts: { added: 8 } });
    const wrongCa = target({ source: source({ urls: [slapd.url], startTls: true }) });
    const failed = await runDirectorySync(deps, wrongCa, { mode: 'full', trigger: 'manual' });
    expect(failed.status).toBe('failed');
    expect(failed.failure).toMatch(/tls|certificate/i);
  });

  it('a run aborted half-way is recorded, removes nobody, and the next run finishes without duplicates', async () => {
    const controller = new AbortController();
    const aborted = await runDirectorySync(deps, target({}, { removal: 'delete' }), {
      mode: 'full',
      trigger: 'manual',
      signal: controller.signal,
      progress: (done) => {
        if (done >= 3) controller.abort(new Error('stopped'));
      },
    });
    expect(aborted.status).toBe('failed');
    const partial = (await directoryUsers()).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(8);
    // A process that died mid-run leaves its run 'running'; the next run marks it interrupted.
    await t.store.directorySync.createRun({ ...aborted, id: 'dead-run', status: 'running', finishedAt: null });
    const next = await runDirectorySync(deps, target({}, { removal: 'delete' }), { mode: 'full', trigger: 'manual' });
    expect(next).toMatchObject({ status: 'completed', counts: { added: 8 - partial, removed: 0 } });
    expect((await t.store.directorySync.getRun('dead-run'))?.status).toBe('interrupted');
    const users = await directoryUsers();
    expect(users.length).toBe(8);
    expect(new Set(users.map((u) => u.source.kind === 'directory' && u.source.externalId)).size).toBe(8);
  });

  it('imports Active Directory-shaped accounts with the AD preset and disables by userAccountControl', async () => {
    const adSlapd = await startSlapd({ ad: true });
    try {
      const ad = target({
        name: 'corp-ad',
        source: directorySource({
          urls: [adSlapd.url],
          bindDn: adSlapd.bindDn,
          bindPassword: adSlapd.bindPassword,
          baseDn: adSlapd.baseDn,
          userAttribute: 'sAMAccountName',
        }),
        items: [{ name: 'ad', scope: { kind: 'ou', dn: AD_OU }, map: withOverrides(activeDirectory, {}), defaults: {} }],
        changeMarker: null,
      });
      const run = await runDirectorySync(deps, ad, { mode: 'full', trigger: 'manual' });
      expect(run.counts).toMatchObject({ added: 3, errors: 0 });
      expect(await user('frank')).toMatchObject({ status: 'disabled' });
      expect(await user('erin')).toMatchObject({ status: 'enabled', language: 'de' });
      const adAdmin = new Client({ url: adSlapd.url });
      await adAdmin.bind(adSlapd.rootDn, adSlapd.rootPassword);
      await adAdmin.modify(
        `cn=erin,${AD_OU}`,
        new Change({ operation: 'replace', modification: new Attribute({ type: 'userAccountControl', values: ['514'] }) }),
      );
      await adAdmin.unbind();
      const second = await runDirectorySync(deps, ad, { mode: 'incremental', trigger: 'schedule' });
      expect(second).toMatchObject({ mode: 'full', counts: { disabled: 1 } });
      expect(await user('erin')).toMatchObject({ status: 'disabled' });
    } finally {
      await adSlapd.stop();
    }
  }, 30_000);

  it('two servers on one database: one scheduler runs, a second start is refused while a run holds the lease', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'countersign-sync-'));
    const url = `sqlite:${join(dir, 'shared.db')}`;
    const stores: Store[] = [];
    try {
      // Opened one after the other: both connections live on this one thread, so a migration
      // waiting for the other's lock would block the thread that holds it.
      const services: ReturnType<typeof createSyncService>[] = [];
      for (const node of ['node-a:1', 'node-b:2']) {
        services.push(
          await (async () => {
            const s = await openStore({ url, keyring: t.keyring });
            stores.push(s);
            const { createCore } = await import('../../src/core/index.ts');
            const { argon2Hasher, hmacHasher } = await import('../../src/platform/hashing.ts');
            const core = createCore({
              store: s,
              clock: t.clock,
              random: systemRandom,
              passwords: argon2Hasher({ memoryCost: 1024, timeCost: 1 }),
              keyedHasher: hmacHasher(t.keyring.pepper),
              serverName: node,
            });
            return createSyncService({ core, store: s, clock: t.clock, random: systemRandom, node, targets: [target()], systemActor: system });
          })(),
        );
      }
      const [a, b] = services as [ReturnType<typeof createSyncService>, ReturnType<typeof createSyncService>];
      await Promise.all([a.tick(), b.tick()]);
      const runs = await a.runs('ldap', 10);
      expect(runs.length).toBe(1);
      const winner = runs[0]?.node;
      expect(['node-a:1', 'node-b:2']).toContain(winner);

      // Let the scheduled run finish, then hold the directory's lease as a run on node A would.
      for (let i = 0; i < 200 && (await a.runs('ldap', 1))[0]?.status === 'running'; i++) await new Promise((r) => setTimeout(r, 25));
      expect((await a.runs('ldap', 1))[0]?.status).toBe('completed');
      expect(await stores[0]!.leases.acquire(directoryLease('ldap'), 'node-a:1', 60_000, t.clock.now())).toBe(true);
      await expect(b.start('ldap', 'full', system)).rejects.toMatchObject({ code: 'sync_running', message: /node-a:1/ });
      expect((await b.status('ldap')).runningOn).toBe('node-a:1');
      await expect(b.status('nope')).rejects.toBeInstanceOf(SyncServiceError);
      // The lease expires: node B may run now.
      t.clock.advance(61_000);
      const started = await b.start('ldap', 'full', system);
      expect((await started.done).status).toBe('completed');
      await a.stop();
      await b.stop();
    } finally {
      for (const s of stores) await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
