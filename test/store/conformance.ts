/**
 * The store conformance suite: every operation of the Store port (src/core/ports.ts), run against
 * each dialect by sqlite.test.ts and postgres.test.ts.
 *
 * `open` opens a store on one database that lives for the whole suite; every call opens another
 * store on the same database, with the keyring given. Tests run in order and share that database,
 * so each one works on its own users, applications and names.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCoreError, type ErrorCode } from '../../src/core/errors.ts';
import type { SessionRecord, Store, SyncRun } from '../../src/core/ports.ts';
import { toUserView } from '../../src/core/services/users.ts';
import type { Authentication, NewAuditEvent, NewMethod, NewUser, OathConfig, User } from '../../src/core/types.ts';
import { keyringFromKeys, type Keyring } from '../../src/store/keyring.ts';

export type OpenStore = (opts?: { keyring?: Keyring }) => Promise<Store>;

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const K1 = randomBytes(32);
const K2 = randomBytes(32);
const PEPPER = randomBytes(32);
/** The suite's store can open secrets under k1 and k2 and seals under k1. */
const BASE_KEYRING = keyringFromKeys({ k1: K1, k2: K2 }, 'k1', PEPPER);
const TOTP: OathConfig = { algorithm: 'SHA1', digits: 6, period: 30, serial: null, origin: 'software' };

let counter = 0;
/** A name no other test uses. */
function unique(prefix: string): string {
  counter += 1;
  return `${prefix}${counter.toString(36)}${randomBytes(3).toString('hex')}`;
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(error, `expected CoreError ${code}`).toBeDefined();
  expect(isCoreError(error) ? error.code : error).toBe(code);
}

export function auditEvent(over: Partial<NewAuditEvent>): NewAuditEvent {
  return {
    at: T0,
    kind: 'authentication',
    action: 'authenticate',
    result: 'approved',
    reason: null,
    username: null,
    userId: null,
    displayName: null,
    email: null,
    phone: null,
    device: null,
    method: null,
    mode: null,
    application: null,
    serverName: null,
    clientIp: null,
    actor: null,
    authenticationId: null,
    details: null,
    ...over,
  };
}

export function describeStoreConformance(name: string, open: OpenStore): void {
  describe(`store conformance: ${name}`, () => {
    let store: Store;
    const extra: Store[] = [];
    /** Another store on the same database (closed at the end). */
    const openAnother = async (keyring: Keyring): Promise<Store> => {
      const s = await open({ keyring });
      extra.push(s);
      return s;
    };

    beforeAll(async () => {
      store = await open({ keyring: BASE_KEYRING });
    });
    afterAll(async () => {
      for (const s of extra) await s.close();
      await store?.close();
    });

    async function newUser(over: Partial<NewUser> = {}): Promise<User> {
      return store.users.create({ username: unique('user'), ...over }, randomUUID(), T0);
    }

    function newMethod(userId: string, over: Partial<NewMethod> = {}): NewMethod {
      return { userId, type: 'totp', label: 'phone', secret: randomBytes(20), config: TOTP, ...over };
    }

    function authentication(user: User | null, over: Partial<Authentication> = {}): Authentication {
      return {
        id: randomUUID(),
        userId: user?.id ?? null,
        username: user?.username ?? 'nobody',
        applicationId: 'app-1',
        applicationName: 'VPN',
        clientIp: '192.0.2.10',
        state: 'challenge',
        reason: 'challenge_issued',
        methodId: null,
        methodType: null,
        createdAt: T0,
        updatedAt: T0,
        expiresAt: T0 + 60_000,
        challengeHash: null,
        ...over,
      };
    }

    it('reports its dialect and answers ping', async () => {
      expect(['sqlite', 'postgres']).toContain(store.dialect);
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe('users', () => {
      it('finds a directory user by directory and external id, exactly', async () => {
        const externalId = randomUUID();
        const directory = unique('corp');
        const user = await newUser({ source: { kind: 'directory', directory, externalId } });
        await newUser({ source: { kind: 'directory', directory: unique('other'), externalId } });
        await newUser();
        expect(await store.users.getBySource(directory, externalId)).toEqual(user);
        expect(await store.users.getBySource(directory, externalId.toUpperCase())).toBeUndefined();
        expect(await store.users.getBySource(directory.toUpperCase(), externalId)).toBeUndefined();
        expect(await store.users.getBySource(directory, randomUUID())).toBeUndefined();
        expect(await store.users.getBySource('', '')).toBeUndefined();
      });

      it('creates a user and reads it back by id and by username in any case', async () => {
        const username = unique('Alice.');
        const id = randomUUID();
        const created = await store.users.create(
          {
            username,
            displayName: 'Alice Liddell',
            email: 'Alice@Example.org',
            phone: { number: '+14155550100', extension: '12', country: 'US' },
            backupPhone: { number: '+442071838750', extension: null, country: 'GB' },
            language: 'fr',
            status: 'disabled',
            defaultMethod: 'totp',
            pinHash: '$argon2id$v=19$fake',
            passwordHash: '$argon2id$v=19$password',
            source: { kind: 'directory', directory: 'corp', externalId: 'guid-1' },
          },
          id,
          T0,
        );
        const expected: User = {
          id,
          username,
          displayName: 'Alice Liddell',
          email: 'Alice@Example.org',
          phone: { number: '+14155550100', extension: '12', country: 'US' },
          backupPhone: { number: '+442071838750', extension: null, country: 'GB' },
          phoneVerifiedAt: null,
          backupPhoneVerifiedAt: null,
          language: 'fr',
          status: 'disabled',
          blockedAt: null,
          blockedReason: null,
          lockedAt: null,
          failedCount: 0,
          defaultMethod: 'totp',
          pinHash: '$argon2id$v=19$fake',
          passwordHash: '$argon2id$v=19$password',
          source: { kind: 'directory', directory: 'corp', externalId: 'guid-1' },
          consoleRole: null,
          replyAttributes: [],
          createdAt: T0,
          updatedAt: T0,
        };
        expect(created).toEqual(expected);
        expect(await store.users.getById(id)).toEqual(expected);
        expect(await store.users.getByUsername(username)).toEqual(expected);
        expect(await store.users.getByUsername(username.toUpperCase())).toEqual(expected);
        expect(await store.users.getByUsername(username.toLowerCase())).toEqual(expected);
        expect(await store.users.getById(randomUUID())).toBeUndefined();
        expect(await store.users.getByUsername(unique('ghost'))).toBeUndefined();
      });

      it('fills defaults for a minimal user', async () => {
        const user = await newUser();
        expect(user).toMatchObject({
          displayName: null,
          email: null,
          phone: null,
          backupPhone: null,
          status: 'enabled',
          failedCount: 0,
          lockedAt: null,
          blockedAt: null,
          defaultMethod: null,
          pinHash: null,
          passwordHash: null,
          source: { kind: 'local' },
        });
        expect(typeof user.language).toBe('string');
      });

      it('stores, replaces and clears a password hash, and never shows it in a view', async () => {
        const user = await newUser();
        expect(user.passwordHash).toBeNull();
        expect(toUserView(user).hasPassword).toBe(false);
        const hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g';
        const set = await store.users.update(user.id, { passwordHash: hash }, T0 + 1);
        expect(set.passwordHash).toBe(hash);
        expect(set.pinHash).toBeNull();
        expect((await store.users.getById(user.id))?.passwordHash).toBe(hash);
        expect((await store.users.getByUsername(user.username.toUpperCase()))?.passwordHash).toBe(hash);
        const listed = (await store.users.list({ search: user.username, limit: 10 })).items.find((u) => u.id === user.id);
        expect(listed?.passwordHash).toBe(hash);
        const view = toUserView(set);
        expect(view.hasPassword).toBe(true);
        expect(view).not.toHaveProperty('passwordHash');
        expect(JSON.stringify(view)).not.toContain(hash);
        const other = await store.users.update(user.id, { displayName: 'Unrelated' }, T0 + 2);
        expect(other.passwordHash).toBe(hash);
        const cleared = await store.users.update(user.id, { passwordHash: null }, T0 + 3);
        expect(cleared.passwordHash).toBeNull();
        expect(toUserView(cleared).hasPassword).toBe(false);
      });

      it('stores, replaces and clears reply attributes in order, repeated names and non-ASCII text kept', async () => {
        const user = await newUser();
        expect(user.replyAttributes).toEqual([]);
        const attributes = [
          { name: 'Class', value: 'vpn-admins' },
          { name: 'Filter-Id', value: 'équipe "ops"' },
          { name: 'Class', value: 'second' },
          { name: 'Framed-IP-Address', value: '10.8.0.12' },
        ];
        const set = await store.users.update(user.id, { replyAttributes: attributes }, T0 + 1);
        expect(set.replyAttributes).toEqual(attributes);
        expect(set.updatedAt).toBe(T0 + 1);
        expect((await store.users.getById(user.id))?.replyAttributes).toEqual(attributes);
        expect((await store.users.getByUsername(user.username.toUpperCase()))?.replyAttributes).toEqual(attributes);
        expect((await store.users.list({ search: user.username, limit: 10 })).items.find((u) => u.id === user.id)?.replyAttributes).toEqual(attributes);
        // Other updates leave them alone.
        expect((await store.users.update(user.id, { displayName: 'Unrelated' }, T0 + 2)).replyAttributes).toEqual(attributes);
        const replaced = await store.users.update(user.id, { replyAttributes: [{ name: 'Session-Timeout', value: '3600' }] }, T0 + 3);
        expect(replaced.replyAttributes).toEqual([{ name: 'Session-Timeout', value: '3600' }]);
        const cleared = await store.users.update(user.id, { replyAttributes: [] }, T0 + 4);
        expect(cleared.replyAttributes).toEqual([]);
        expect((await store.users.getById(user.id))?.replyAttributes).toEqual([]);
      });

      it('treats usernames case-insensitively, including non-ASCII letters', async () => {
        const base = unique('élodie');
        await store.users.create({ username: base }, randomUUID(), T0);
        await rejectsWith(store.users.create({ username: base.toUpperCase() }, randomUUID(), T0), 'user_exists');
        expect((await store.users.getByUsername(base.toUpperCase()))?.username).toBe(base);
      });

      it('refuses a second user with a taken username and leaves the first intact', async () => {
        const first = await newUser({ displayName: 'First' });
        await rejectsWith(store.users.create({ username: first.username, displayName: 'Second' }, randomUUID(), T0), 'user_exists');
        expect((await store.users.getByUsername(first.username))?.displayName).toBe('First');
      });

      it('updates the given fields only, clears with null, and bumps updatedAt', async () => {
        const user = await newUser({ displayName: 'Bob', email: 'bob@example.org', language: 'en' });
        const updated = await store.users.update(
          user.id,
          { displayName: null, phone: { number: '+14155550101', extension: null, country: 'US' }, language: 'de', defaultMethod: 'hotp', pinHash: 'h' },
          T0 + 5,
        );
        expect(updated).toEqual({
          ...user,
          displayName: null,
          phone: { number: '+14155550101', extension: null, country: 'US' },
          language: 'de',
          defaultMethod: 'hotp',
          pinHash: 'h',
          updatedAt: T0 + 5,
        });
        expect(await store.users.getById(user.id)).toEqual(updated);
        const disabled = await store.users.update(user.id, { status: 'disabled', email: null }, T0 + 6);
        expect(disabled.status).toBe('disabled');
        expect(disabled.email).toBeNull();
      });

      it('renames, refuses a rename onto a taken name, and allows a change of case', async () => {
        const a = await newUser();
        const b = await newUser();
        const newName = unique('renamed');
        const renamed = await store.users.update(a.id, { username: newName }, T0 + 1);
        expect(renamed.username).toBe(newName);
        expect(await store.users.getByUsername(a.username)).toBeUndefined();
        expect((await store.users.getByUsername(newName))?.id).toBe(a.id);

        await rejectsWith(store.users.update(b.id, { username: newName.toUpperCase() }, T0 + 2), 'user_exists');
        expect((await store.users.getById(b.id))?.username).toBe(b.username);

        const recased = await store.users.update(a.id, { username: newName.toUpperCase() }, T0 + 3);
        expect(recased.username).toBe(newName.toUpperCase());
      });

      it('reports user_not_found when updating, blocking or counting failures of a missing user', async () => {
        await rejectsWith(store.users.update(randomUUID(), { displayName: 'x' }, T0), 'user_not_found');
        await rejectsWith(store.users.setBlocked(randomUUID(), { at: T0, reason: 'x' }, T0), 'user_not_found');
        await rejectsWith(store.users.recordFailure(randomUUID(), 3, T0), 'user_not_found');
      });

      it('deletes a user with its methods, bypasses and authentications', async () => {
        const user = await newUser();
        const other = await newUser();
        const method = await store.methods.add(newMethod(user.id), randomUUID(), T0);
        const otherMethod = await store.methods.add(newMethod(other.id), randomUUID(), T0);
        await store.bypasses.issue({ id: randomUUID(), userId: user.id, reason: 'r', createdBy: 'cli:test', createdAt: T0, expiresAt: T0 + 60_000 });
        const auth = authentication(user, { state: 'approved', reason: 'passcode_ok' });
        await store.authentications.create(auth);

        expect(await store.users.delete(user.id)).toBe(true);
        expect(await store.users.getById(user.id)).toBeUndefined();
        expect(await store.methods.get(method.id)).toBeUndefined();
        expect(await store.methods.listForUser(user.id)).toEqual([]);
        expect(await store.bypasses.active(user.id, T0)).toBeUndefined();
        expect(await store.bypasses.history(user.id, 10)).toEqual([]);
        expect(await store.authentications.get(auth.id)).toBeUndefined();
        expect(await store.users.delete(user.id)).toBe(false);
        // Nothing of the other user went with it.
        expect((await store.methods.get(otherMethod.id))?.userId).toBe(other.id);
      });

      it('blocks and unblocks', async () => {
        const user = await newUser();
        const blocked = await store.users.setBlocked(user.id, { at: T0 + 10, reason: 'fraud report' }, T0 + 10);
        expect(blocked).toMatchObject({ blockedAt: T0 + 10, blockedReason: 'fraud report', updatedAt: T0 + 10 });
        expect(await store.users.getById(user.id)).toEqual(blocked);
        const unblocked = await store.users.setBlocked(user.id, null, T0 + 20);
        expect(unblocked).toMatchObject({ blockedAt: null, blockedReason: null, updatedAt: T0 + 20 });
      });

      it('counts failures, locks once at the threshold, and resets', async () => {
        const user = await newUser();
        expect(await store.users.recordFailure(user.id, 3, T0 + 1)).toEqual({ failedCount: 1, lockedAt: null });
        expect(await store.users.recordFailure(user.id, 3, T0 + 2)).toEqual({ failedCount: 2, lockedAt: null });
        expect(await store.users.recordFailure(user.id, 3, T0 + 3)).toEqual({ failedCount: 3, lockedAt: T0 + 3 });
        // Further failures count but keep the original lock time.
        expect(await store.users.recordFailure(user.id, 3, T0 + 4)).toEqual({ failedCount: 4, lockedAt: T0 + 3 });
        expect(await store.users.getById(user.id)).toMatchObject({ failedCount: 4, lockedAt: T0 + 3 });

        await store.users.resetFailures(user.id, T0 + 5);
        expect(await store.users.getById(user.id)).toMatchObject({ failedCount: 0, lockedAt: null });
        expect(await store.users.recordFailure(user.id, 3, T0 + 6)).toEqual({ failedCount: 1, lockedAt: null });
      });

      it('locks when a lower threshold is already exceeded, and never with threshold 0', async () => {
        const user = await newUser();
        for (let i = 1; i <= 5; i++) expect(await store.users.recordFailure(user.id, 0, T0 + i)).toEqual({ failedCount: i, lockedAt: null });
        expect(await store.users.recordFailure(user.id, 2, T0 + 9)).toEqual({ failedCount: 6, lockedAt: T0 + 9 });
      });

      it('counts concurrent failures exactly', async () => {
        const user = await newUser();
        const results = await Promise.all(Array.from({ length: 25 }, (_, i) => store.users.recordFailure(user.id, 10, T0 + i)));
        expect(results.map((r) => r.failedCount).sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
        expect(results.filter((r) => r.failedCount < 10).every((r) => r.lockedAt === null)).toBe(true);
        expect(new Set(results.filter((r) => r.failedCount >= 10).map((r) => r.lockedAt)).size).toBe(1);
        expect((await store.users.getById(user.id))?.failedCount).toBe(25);
      });

      it('counts users', async () => {
        const before = await store.users.count();
        await newUser();
        await newUser();
        expect(await store.users.count()).toBe(before + 2);
      });

      it('lists in username order with keyset paging', async () => {
        const prefix = unique('page').toLowerCase();
        const names = ['d', 'A', 'c', 'e', 'B', 'f', 'g'].map((s) => `${prefix}-${s}`);
        for (const n of names) await store.users.create({ username: n }, randomUUID(), T0);
        const expected = names.map((n) => n.toLowerCase()).sort();

        const seen: string[] = [];
        let after: string | undefined;
        let pages = 0;
        for (;;) {
          const page = await store.users.list({ search: prefix, limit: 3, ...(after === undefined ? {} : { after }) });
          pages += 1;
          seen.push(...page.items.map((u) => u.username.toLowerCase()));
          if (page.next === null) break;
          expect(page.items).toHaveLength(3);
          expect(page.next).toBe(page.items[2]?.username.toLowerCase());
          after = page.next as string;
        }
        expect(seen).toEqual(expected);
        expect(pages).toBe(3);

        // Without a search, `after` alone pages from that name on.
        const fromPrefix = await store.users.list({ after: prefix, limit: 4 });
        expect(fromPrefix.items.map((u) => u.username.toLowerCase())).toEqual(expected.slice(0, 4));
        expect(fromPrefix.next).toBe(expected[3]);

        // An exact fit has no next page.
        const exact = await store.users.list({ search: prefix, limit: names.length });
        expect(exact.items).toHaveLength(names.length);
        expect(exact.next).toBeNull();
      });

      it('searches username, display name and email as case-insensitive substrings', async () => {
        const tag = unique('srch');
        const byName = await store.users.create({ username: `${tag}-Zed` }, randomUUID(), T0);
        const byDisplay = await store.users.create({ username: unique('u'), displayName: `Dr ${tag.toUpperCase()} Who` }, randomUUID(), T0);
        const byEmail = await store.users.create({ username: unique('u'), email: `x.${tag}@Example.ORG` }, randomUUID(), T0);
        await store.users.create({ username: unique('u'), displayName: 'unrelated' }, randomUUID(), T0);

        const ids = async (search: string): Promise<string[]> =>
          (await store.users.list({ search, limit: 50 })).items.map((u) => u.id).sort();
        expect(await ids(tag)).toEqual([byName.id, byDisplay.id, byEmail.id].sort());
        expect(await ids(tag.toUpperCase())).toEqual([byName.id, byDisplay.id, byEmail.id].sort());
        expect(await ids(`${tag}-zED`)).toEqual([byName.id]);
        expect(await ids(`${tag.toLowerCase()} who`)).toEqual([byDisplay.id]);
        expect(await ids(`${tag}@example.org`)).toEqual([byEmail.id]);
      });

      it('matches LIKE wildcards and the escape character literally', async () => {
        const tag = unique('wild');
        const percent = await store.users.create({ username: `${tag}a%b` }, randomUUID(), T0);
        const underscore = await store.users.create({ username: `${tag}a_b` }, randomUUID(), T0);
        const backslash = await store.users.create({ username: `${tag}a\\b` }, randomUUID(), T0);
        await store.users.create({ username: `${tag}axb` }, randomUUID(), T0);
        await store.users.create({ username: `${tag}aXYZb` }, randomUUID(), T0);

        const ids = async (search: string): Promise<string[]> => (await store.users.list({ search, limit: 50 })).items.map((u) => u.id);
        expect(await ids(`${tag}a%b`)).toEqual([percent.id]);
        expect(await ids(`${tag}a_b`)).toEqual([underscore.id]);
        expect(await ids(`${tag}a\\b`)).toEqual([backslash.id]);
        expect(await ids('%')).toContain(percent.id);
        expect(await ids('%')).not.toContain(underscore.id);
      });

      it('filters on the effective state: disabled > blocked > locked > enabled', async () => {
        const tag = unique('state');
        const make = async (suffix: string): Promise<User> => store.users.create({ username: `${tag}-${suffix}` }, randomUUID(), T0);
        const enabled = await make('enabled');
        const locked = await make('locked');
        await store.users.recordFailure(locked.id, 1, T0);
        const blocked = await make('blocked');
        await store.users.setBlocked(blocked.id, { at: T0, reason: 'r' }, T0);
        const blockedAndLocked = await make('blocked-locked');
        await store.users.setBlocked(blockedAndLocked.id, { at: T0, reason: 'r' }, T0);
        await store.users.recordFailure(blockedAndLocked.id, 1, T0);
        const disabled = await make('disabled');
        await store.users.update(disabled.id, { status: 'disabled' }, T0);
        const disabledAndBlocked = await make('disabled-blocked');
        await store.users.update(disabledAndBlocked.id, { status: 'disabled' }, T0);
        await store.users.setBlocked(disabledAndBlocked.id, { at: T0, reason: 'r' }, T0);
        await store.users.recordFailure(disabledAndBlocked.id, 1, T0);

        const ids = async (status: 'enabled' | 'disabled' | 'blocked' | 'locked'): Promise<string[]> =>
          (await store.users.list({ search: tag, status, limit: 50 })).items.map((u) => u.id).sort();
        expect(await ids('enabled')).toEqual([enabled.id]);
        expect(await ids('locked')).toEqual([locked.id]);
        expect(await ids('blocked')).toEqual([blocked.id, blockedAndLocked.id].sort());
        expect(await ids('disabled')).toEqual([disabled.id, disabledAndBlocked.id].sort());

        // Status paging works like plain paging.
        const first = await store.users.list({ search: tag, status: 'blocked', limit: 1 });
        expect(first.items).toHaveLength(1);
        const second = await store.users.list({ search: tag, status: 'blocked', limit: 1, after: first.next as string });
        expect(second.items).toHaveLength(1);
        expect(second.next).toBeNull();
        expect([first.items[0]?.id, second.items[0]?.id].sort()).toEqual([blocked.id, blockedAndLocked.id].sort());
      });

      it('refuses a non-positive page size', async () => {
        await rejectsWith(store.users.list({ limit: 0 }), 'validation_failed');
      });

      it('marks a phone verified only while it is the same number, and a changed number loses it', async () => {
        const phone = { number: '+14155550100', extension: null, country: 'US' };
        const backup = { number: '+442071838750', extension: null, country: 'GB' };
        const user = await newUser({ phone, backupPhone: backup });
        expect(await store.users.setPhoneVerified(user.id, 'phone', { ...phone, number: '+14155550199' }, T0 + 1)).toBe(false);
        expect(await store.users.setPhoneVerified(user.id, 'phone', phone, T0 + 2)).toBe(true);
        expect(await store.users.setPhoneVerified(user.id, 'backupPhone', backup, T0 + 3)).toBe(true);
        expect(await store.users.setPhoneVerified(randomUUID(), 'phone', phone, T0 + 3)).toBe(false);
        expect(await store.users.getById(user.id)).toMatchObject({ phoneVerifiedAt: T0 + 2, backupPhoneVerifiedAt: T0 + 3 });
        // The same values again (a form saved unchanged) keep the verification; other changes leave it alone.
        const same = await store.users.update(user.id, { phone: { ...phone }, backupPhone: { ...backup }, displayName: 'X' }, T0 + 4);
        expect(same).toMatchObject({ phoneVerifiedAt: T0 + 2, backupPhoneVerifiedAt: T0 + 3 });
        const changed = await store.users.update(user.id, { phone: { ...phone, number: '+14155550101' } }, T0 + 5);
        expect(changed).toMatchObject({ phoneVerifiedAt: null, backupPhoneVerifiedAt: T0 + 3 });
        const cleared = await store.users.update(user.id, { backupPhone: null }, T0 + 6);
        expect(cleared).toMatchObject({ backupPhone: null, backupPhoneVerifiedAt: null });
      });
    });

    describe('phone codes', () => {
      const code = (userId: string, over: Partial<{ hash: string; sentAt: number; expiresAt: number }> = {}) => ({
        userId,
        which: 'phone' as const,
        hash: randomBytes(16).toString('hex'),
        sentAt: T0,
        expiresAt: T0 + 300_000,
        ...over,
      });

      it('stores one code per user and phone, replacing it only after the rate limit', async () => {
        const user = await newUser();
        const first = code(user.id);
        expect(await store.phoneCodes.issue(first, T0 - 30_000)).toBe(true);
        // Within 30 s: refused, the first code stays.
        expect(await store.phoneCodes.issue(code(user.id, { sentAt: T0 + 10_000 }), T0 + 10_000 - 30_000)).toBe(false);
        expect(await store.phoneCodes.attempt(user.id, 'phone', T0 + 10_000, 5)).toBe(first.hash);
        // The backup phone has its own code.
        expect(await store.phoneCodes.issue({ ...code(user.id), which: 'backupPhone' }, T0 - 30_000)).toBe(true);
        // After 30 s: replaced, attempts start over, the first code is gone.
        const second = code(user.id, { sentAt: T0 + 30_000, expiresAt: T0 + 330_000 });
        expect(await store.phoneCodes.issue(second, T0)).toBe(true);
        expect(await store.phoneCodes.consume(user.id, 'phone', first.hash)).toBe(false);
        for (let i = 0; i < 5; i++) expect(await store.phoneCodes.attempt(user.id, 'phone', T0 + 40_000, 5)).toBe(second.hash);
        expect(await store.phoneCodes.attempt(user.id, 'phone', T0 + 40_000, 5)).toBeUndefined();
      });

      it('gives no attempt on an expired or missing code, and consumes a code once', async () => {
        const user = await newUser();
        const c = code(user.id);
        await store.phoneCodes.issue(c, T0);
        expect(await store.phoneCodes.attempt(user.id, 'phone', T0 + 300_000, 5)).toBeUndefined();
        expect(await store.phoneCodes.attempt(user.id, 'backupPhone', T0, 5)).toBeUndefined();
        expect(await store.phoneCodes.attempt(randomUUID(), 'phone', T0, 5)).toBeUndefined();
        expect(await store.phoneCodes.consume(user.id, 'phone', 'other')).toBe(false);
        expect(await store.phoneCodes.consume(user.id, 'phone', c.hash)).toBe(true);
        expect(await store.phoneCodes.consume(user.id, 'phone', c.hash)).toBe(false);
        expect(await store.phoneCodes.attempt(user.id, 'phone', T0, 5)).toBeUndefined();
      });

      it('lets one of many concurrent senders through, counts every concurrent attempt, consumes once', async () => {
        const user = await newUser();
        const other = await openAnother(BASE_KEYRING);
        const issued = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? other : store).phoneCodes.issue(code(user.id), T0 - 30_000)));
        expect(issued.filter(Boolean)).toHaveLength(1);
        const attempts = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? other : store).phoneCodes.attempt(user.id, 'phone', T0, 5)));
        expect(attempts.filter((h) => h !== undefined)).toHaveLength(5);
        const c = code(user.id, { sentAt: T0 + 60_000, expiresAt: T0 + 360_000 });
        expect(await store.phoneCodes.issue(c, T0 + 30_000)).toBe(true);
        const consumed = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? other : store).phoneCodes.consume(user.id, 'phone', c.hash)));
        expect(consumed.filter(Boolean)).toHaveLength(1);
      });

      it('go with their user', async () => {
        const user = await newUser();
        await store.phoneCodes.issue(code(user.id), T0);
        await store.users.delete(user.id);
        expect(await store.phoneCodes.attempt(user.id, 'phone', T0, 5)).toBeUndefined();
      });
    });

    describe('methods', () => {
      it('activates a pending method once with its new secret and label, and replaces the secret of an active one', async () => {
        const user = await newUser();
        const device = await store.methods.add(newMethod(user.id, { type: 'push', label: 'waiting', secret: new Uint8Array([1]), pending: true }), randomUUID(), T0);
        const results = await Promise.all([1, 2, 3].map((i) => store.methods.activate(device.id, new Uint8Array([i, i]), `phone ${i}`, T0 + i)));
        expect(results.filter(Boolean)).toHaveLength(1);
        const active = await store.methods.get(device.id);
        expect(active?.pending).toBe(false);
        const winner = results.indexOf(true) + 1;
        expect([active?.label, [...(active?.secret ?? [])]]).toEqual([`phone ${winner}`, [winner, winner]]);
        expect(await store.methods.replaceSecret(device.id, new Uint8Array([9]))).toBe(true);
        expect([...((await store.methods.get(device.id))?.secret ?? [])]).toEqual([9]);
        expect(await store.methods.replaceSecret(randomUUID(), new Uint8Array([9]))).toBe(false);
      });

      it('adds, reads and lists methods with their secrets and configuration', async () => {
        const user = await newUser();
        const secret = randomBytes(20);
        const hotpConfig: OathConfig = { algorithm: 'SHA256', digits: 8, period: 30, serial: 'HW-123', origin: 'imported' };
        const first = await store.methods.add(newMethod(user.id, { secret, label: 'app' }), randomUUID(), T0);
        expect(first).toEqual({
          id: first.id,
          userId: user.id,
          type: 'totp',
          label: 'app',
          secret: new Uint8Array(secret),
          config: TOTP,
          lastStep: null,
          drift: 0,
          pending: false,
          createdAt: T0,
          lastUsedAt: null,
        });
        const second = await store.methods.add(newMethod(user.id, { type: 'hotp', label: 'token', config: hotpConfig, lastStep: 41 }), randomUUID(), T0 + 1);
        expect(second).toMatchObject({ type: 'hotp', config: hotpConfig, lastStep: 41 });

        expect(await store.methods.get(first.id)).toEqual(first);
        expect(await store.methods.listForUser(user.id)).toEqual([first, second]);
        expect(await store.methods.listForUser(randomUUID())).toEqual([]);
        expect(await store.methods.get(randomUUID())).toBeUndefined();
      });

      it('refuses a method for a missing user', async () => {
        await rejectsWith(store.methods.add(newMethod(randomUUID()), randomUUID(), T0), 'user_not_found');
      });

      it('deletes one method or all of a user', async () => {
        const user = await newUser();
        const a = await store.methods.add(newMethod(user.id), randomUUID(), T0);
        await store.methods.add(newMethod(user.id), randomUUID(), T0 + 1);
        await store.methods.add(newMethod(user.id), randomUUID(), T0 + 2);
        expect(await store.methods.delete(a.id)).toBe(true);
        expect(await store.methods.delete(a.id)).toBe(false);
        expect(await store.methods.listForUser(user.id)).toHaveLength(2);
        expect(await store.methods.deleteAllForUser(user.id)).toBe(2);
        expect(await store.methods.deleteAllForUser(user.id)).toBe(0);
        expect(await store.methods.listForUser(user.id)).toEqual([]);
      });

      it('accepts a step once: the same or a lower step is refused, a higher one accepted', async () => {
        const user = await newUser();
        const method = await store.methods.add(newMethod(user.id), randomUUID(), T0);
        expect(await store.methods.consumeStep(method.id, 1000, 1, T0 + 1)).toBe(true);
        expect(await store.methods.get(method.id)).toMatchObject({ lastStep: 1000, drift: 1, lastUsedAt: T0 + 1 });
        expect(await store.methods.consumeStep(method.id, 1000, 0, T0 + 2)).toBe(false);
        expect(await store.methods.consumeStep(method.id, 999, 0, T0 + 3)).toBe(false);
        expect(await store.methods.get(method.id)).toMatchObject({ lastStep: 1000, drift: 1, lastUsedAt: T0 + 1 });
        expect(await store.methods.consumeStep(method.id, 1001, -1, T0 + 4)).toBe(true);
        expect(await store.methods.get(method.id)).toMatchObject({ lastStep: 1001, drift: -1, lastUsedAt: T0 + 4 });
        expect(await store.methods.consumeStep(randomUUID(), 5, 0, T0)).toBe(false);
      });

      it('honours an imported HOTP counter as the replay guard', async () => {
        const user = await newUser();
        const method = await store.methods.add(newMethod(user.id, { type: 'hotp', lastStep: 10 }), randomUUID(), T0);
        expect(await store.methods.consumeStep(method.id, 10, 0, T0)).toBe(false);
        expect(await store.methods.consumeStep(method.id, 11, 0, T0)).toBe(true);
        const fresh = await store.methods.add(newMethod(user.id, { type: 'hotp', lastStep: -1 }), randomUUID(), T0);
        expect(await store.methods.consumeStep(fresh.id, 0, 0, T0)).toBe(true);
      });

      it('lets exactly one of many concurrent callers consume a step', async () => {
        const user = await newUser();
        const method = await store.methods.add(newMethod(user.id), randomUUID(), T0);
        const results = await Promise.all(Array.from({ length: 30 }, () => store.methods.consumeStep(method.id, 77, 0, T0)));
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('swaps the step only from the expected value, for exactly one of many concurrent callers', async () => {
        const user = await newUser();
        const method = await store.methods.add(newMethod(user.id, { type: 'backup' }), randomUUID(), T0);
        expect(await store.methods.swapStep(method.id, 1, 3, T0)).toBe(false);
        expect(await store.methods.swapStep(method.id, null, 1, T0 + 1)).toBe(true);
        expect(await store.methods.get(method.id)).toMatchObject({ lastStep: 1, lastUsedAt: T0 + 1 });
        expect(await store.methods.swapStep(method.id, null, 2, T0 + 2)).toBe(false);
        const results = await Promise.all([3, 5, 9, 17].map((next) => store.methods.swapStep(method.id, 1, next, T0 + 3)));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect([3, 5, 9, 17]).toContain((await store.methods.get(method.id))?.lastStep);
      });

      it('confirms a pending method once, with a new step', async () => {
        const user = await newUser();
        const method = await store.methods.add({ ...newMethod(user.id), pending: true }, randomUUID(), T0);
        expect(method.pending).toBe(true);
        const results = await Promise.all(Array.from({ length: 10 }, () => store.methods.confirm(method.id, 40, 0, T0 + 1)));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.methods.get(method.id)).toMatchObject({ pending: false, lastStep: 40, lastUsedAt: T0 + 1 });
        expect(await store.methods.confirm(method.id, 41, 0, T0 + 2)).toBe(false);
      });

      it('sets the step unconditionally (resync, reset)', async () => {
        const user = await newUser();
        const method = await store.methods.add(newMethod(user.id, { type: 'hotp' }), randomUUID(), T0);
        await store.methods.consumeStep(method.id, 50, 0, T0 + 1);
        await store.methods.setStep(method.id, 20, 2, T0 + 2);
        expect(await store.methods.get(method.id)).toMatchObject({ lastStep: 20, drift: 2, lastUsedAt: T0 + 2 });
        expect(await store.methods.consumeStep(method.id, 21, 0, T0 + 3)).toBe(true);
        await store.methods.setStep(method.id, null, 0, T0 + 4);
        expect(await store.methods.get(method.id)).toMatchObject({ lastStep: null, drift: 0 });
        expect(await store.methods.consumeStep(method.id, 0, 0, T0 + 5)).toBe(true);
        await rejectsWith(store.methods.setStep(randomUUID(), 1, 0, T0), 'method_not_found');
      });

      it('keeps secrets sealed: a store with other keys cannot open them', async () => {
        const user = await newUser();
        const method = await store.methods.add(newMethod(user.id), randomUUID(), T0);
        const stranger = await openAnother(keyringFromKeys({ k1: randomBytes(32) }, 'k1', PEPPER));
        await expect(stranger.methods.get(method.id)).rejects.toThrow();
        // The same keys in another store open it.
        const friend = await openAnother(keyringFromKeys({ k1: K1 }, 'k1', PEPPER));
        expect((await friend.methods.get(method.id))?.secret).toEqual(method.secret);
      });

      it('re-seals every secret under the active key after rotation', async () => {
        const user = await newUser();
        const methods = [];
        for (let i = 0; i < 3; i++) methods.push(await store.methods.add(newMethod(user.id), randomUUID(), T0 + i));

        const rotated = await openAnother(keyringFromKeys({ k1: K1, k2: K2 }, 'k2', PEPPER));
        const resealed = await rotated.methods.resealAll();
        expect(resealed).toBeGreaterThanOrEqual(methods.length);
        expect(await rotated.methods.resealAll()).toBe(0);

        // Only k2 is needed now; k1 alone no longer opens them.
        const k2Only = await openAnother(keyringFromKeys({ k2: K2 }, 'k2', PEPPER));
        const k1Only = await openAnother(keyringFromKeys({ k1: K1 }, 'k1', PEPPER));
        for (const m of methods) {
          expect((await k2Only.methods.get(m.id))?.secret).toEqual(m.secret);
          await expect(k1Only.methods.get(m.id)).rejects.toThrow();
        }
        // The suite's store (k1 and k2) still reads them.
        expect(await store.methods.listForUser(user.id)).toEqual(methods);
      });
    });

    describe('applications', () => {
      it('creates, reads by id and by name in any case, lists, updates and deletes', async () => {
        const name = unique('VPN ');
        const id = randomUUID();
        const app = await store.applications.create({ name, requireUserMatch: true, trustedIps: ['10.0.0.0/8', '192.0.2.1'], cacheSeconds: null, allowedMethods: null }, id, T0);
        expect(app).toEqual({ id, name, requireUserMatch: true, trustedIps: ['10.0.0.0/8', '192.0.2.1'], cacheSeconds: null, allowedMethods: null, createdAt: T0, updatedAt: T0 });
        expect(await store.applications.get(id)).toEqual(app);
        expect(await store.applications.getByName(name.toUpperCase())).toEqual(app);
        expect(await store.applications.getByName(unique('none'))).toBeUndefined();
        expect((await store.applications.list()).map((a) => a.id)).toContain(id);

        const updated = await store.applications.update(id, { requireUserMatch: false, cacheSeconds: 300, allowedMethods: ['totp'], trustedIps: [] }, T0 + 1);
        expect(updated).toEqual({ ...app, requireUserMatch: false, cacheSeconds: 300, allowedMethods: ['totp'], trustedIps: [], updatedAt: T0 + 1 });
        expect(await store.applications.get(id)).toEqual(updated);
        const cleared = await store.applications.update(id, { allowedMethods: null, cacheSeconds: 0 }, T0 + 2);
        expect(cleared).toMatchObject({ allowedMethods: null, cacheSeconds: 0, requireUserMatch: false });

        expect(await store.applications.delete(id)).toBe(true);
        expect(await store.applications.delete(id)).toBe(false);
        expect(await store.applications.get(id)).toBeUndefined();
      });

      it('keeps names unique regardless of case', async () => {
        const name = unique('Wiki');
        const a = await store.applications.create({ name, requireUserMatch: true, trustedIps: [], cacheSeconds: null, allowedMethods: null }, randomUUID(), T0);
        await rejectsWith(
          store.applications.create({ name: name.toLowerCase(), requireUserMatch: true, trustedIps: [], cacheSeconds: null, allowedMethods: null }, randomUUID(), T0),
          'application_exists',
        );
        const b = await store.applications.create({ name: unique('Mail'), requireUserMatch: true, trustedIps: [], cacheSeconds: null, allowedMethods: null }, randomUUID(), T0);
        await rejectsWith(store.applications.update(b.id, { name: name.toUpperCase() }, T0), 'application_exists');
        expect((await store.applications.update(a.id, { name: name.toUpperCase() }, T0)).name).toBe(name.toUpperCase());
        await rejectsWith(store.applications.update(randomUUID(), { cacheSeconds: 1 }, T0), 'application_not_found');
      });
    });

    describe('bypasses', () => {
      it('issues one that is active until it expires', async () => {
        const user = await newUser();
        const bypass = { id: randomUUID(), userId: user.id, reason: 'lost phone', createdBy: 'apikey:helpdesk', createdAt: T0, expiresAt: T0 + 300_000 };
        expect(await store.bypasses.issue(bypass)).toEqual({ ...bypass, usedAt: null });
        expect(await store.bypasses.active(user.id, T0)).toEqual({ ...bypass, usedAt: null });
        expect(await store.bypasses.active(user.id, T0 + 299_999)).toEqual({ ...bypass, usedAt: null });
        expect(await store.bypasses.active(user.id, T0 + 300_000)).toBeUndefined();
        expect(await store.bypasses.consume(user.id, T0 + 300_000)).toBe(false);
      });

      it('is consumed once', async () => {
        const user = await newUser();
        const bypass = { id: randomUUID(), userId: user.id, reason: 'r', createdBy: 'cli:admin', createdAt: T0, expiresAt: T0 + 60_000 };
        await store.bypasses.issue(bypass);
        expect(await store.bypasses.consume(user.id, T0 + 10)).toBe(true);
        expect(await store.bypasses.consume(user.id, T0 + 11)).toBe(false);
        expect(await store.bypasses.active(user.id, T0 + 12)).toBeUndefined();
        expect(await store.bypasses.history(user.id, 10)).toEqual([{ ...bypass, usedAt: T0 + 10 }]);
      });

      it('lets exactly one of many concurrent callers consume it', async () => {
        const user = await newUser();
        await store.bypasses.issue({ id: randomUUID(), userId: user.id, reason: 'r', createdBy: 'cli:admin', createdAt: T0, expiresAt: T0 + 60_000 });
        const results = await Promise.all(Array.from({ length: 30 }, () => store.bypasses.consume(user.id, T0 + 1)));
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('replaces an unused bypass on issue, keeps used ones as history', async () => {
        const user = await newUser();
        const first = { id: randomUUID(), userId: user.id, reason: 'first', createdBy: 'cli:a', createdAt: T0, expiresAt: T0 + 60_000 };
        await store.bypasses.issue(first);
        expect(await store.bypasses.consume(user.id, T0 + 1)).toBe(true);
        const second = { id: randomUUID(), userId: user.id, reason: 'second', createdBy: 'cli:a', createdAt: T0 + 2, expiresAt: T0 + 60_000 };
        await store.bypasses.issue(second);
        const third = { id: randomUUID(), userId: user.id, reason: 'third', createdBy: 'cli:b', createdAt: T0 + 3, expiresAt: T0 + 90_000 };
        await store.bypasses.issue(third);

        expect(await store.bypasses.active(user.id, T0 + 4)).toEqual({ ...third, usedAt: null });
        expect(await store.bypasses.history(user.id, 10)).toEqual([
          { ...third, usedAt: null },
          { ...first, usedAt: T0 + 1 },
        ]);
        expect(await store.bypasses.history(user.id, 1)).toEqual([{ ...third, usedAt: null }]);
        expect(await store.bypasses.consume(user.id, T0 + 5)).toBe(true);
        expect((await store.bypasses.history(user.id, 10)).map((b) => b.id)).toEqual([third.id, first.id]);
      });

      it('cancels the unused bypass only', async () => {
        const user = await newUser();
        const used = { id: randomUUID(), userId: user.id, reason: 'used', createdBy: 'cli:a', createdAt: T0, expiresAt: T0 + 60_000 };
        await store.bypasses.issue(used);
        await store.bypasses.consume(user.id, T0 + 1);
        expect(await store.bypasses.cancel(user.id)).toBe(false);
        await store.bypasses.issue({ id: randomUUID(), userId: user.id, reason: 'open', createdBy: 'cli:a', createdAt: T0 + 2, expiresAt: T0 + 60_000 });
        expect(await store.bypasses.cancel(user.id)).toBe(true);
        expect(await store.bypasses.active(user.id, T0 + 3)).toBeUndefined();
        expect(await store.bypasses.consume(user.id, T0 + 3)).toBe(false);
        expect(await store.bypasses.cancel(user.id)).toBe(false);
        expect(await store.bypasses.history(user.id, 10)).toEqual([{ ...used, usedAt: T0 + 1 }]);
      });

      it('refuses a bypass for a missing user', async () => {
        await rejectsWith(
          store.bypasses.issue({ id: randomUUID(), userId: randomUUID(), reason: 'r', createdBy: 'cli:a', createdAt: T0, expiresAt: T0 + 1 }),
          'user_not_found',
        );
      });
    });

    describe('authentications', () => {
      it('creates and reads back', async () => {
        const user = await newUser();
        const auth = authentication(user, { methodId: 'm-1', methodType: 'totp' });
        await store.authentications.create(auth);
        expect(await store.authentications.get(auth.id)).toEqual(auth);
        const anonymous = authentication(null, { clientIp: null, state: 'denied', reason: 'user_not_found' });
        await store.authentications.create(anonymous);
        expect(await store.authentications.get(anonymous.id)).toEqual(anonymous);
        const call = authentication(user, { state: 'pending', methodId: 'm-2', methodType: 'voice', challengeHash: 'ab'.repeat(32) });
        await store.authentications.create(call);
        expect(await store.authentications.get(call.id)).toEqual(call);
        // A device's pending requests: open and unexpired only, oldest first.
        const device = `d-${randomUUID()}`;
        const older = authentication(user, { state: 'pending', methodId: device, methodType: 'push', createdAt: T0 - 5, challengeHash: 'cd'.repeat(32) });
        const newer = authentication(user, { state: 'pending', methodId: device, methodType: 'push', createdAt: T0, challengeHash: 'ef'.repeat(32) });
        const expired = authentication(user, { state: 'pending', methodId: device, methodType: 'push', expiresAt: T0 - 1 });
        const done = authentication(user, { state: 'approved', reason: 'out_of_band_ok', methodId: device, methodType: 'push' });
        for (const a of [newer, expired, done, older]) await store.authentications.create(a);
        expect((await store.authentications.pendingForMethod(device, T0)).map((a) => a.id)).toEqual([older.id, newer.id]);
        expect(await store.authentications.get(randomUUID())).toBeUndefined();
      });

      it('moves state by compare-and-set', async () => {
        const user = await newUser();
        const auth = authentication(user);
        await store.authentications.create(auth);
        expect(await store.authentications.transition(auth.id, 'challenge', 'pending', 'challenge_issued', {}, T0 + 1)).toBe(true);
        expect(await store.authentications.transition(auth.id, 'challenge', 'expired', 'expired', {}, T0 + 2)).toBe(false);
        expect(await store.authentications.get(auth.id)).toEqual({ ...auth, state: 'pending', updatedAt: T0 + 1 });

        expect(await store.authentications.transition(auth.id, 'pending', 'approved', 'passcode_ok', { methodId: 'm-9', methodType: 'hotp' }, T0 + 3)).toBe(true);
        expect(await store.authentications.get(auth.id)).toEqual({ ...auth, state: 'approved', reason: 'passcode_ok', methodId: 'm-9', methodType: 'hotp', updatedAt: T0 + 3 });
        expect(await store.authentications.transition(auth.id, 'pending', 'denied', 'invalid_passcode', {}, T0 + 4)).toBe(false);
        expect(await store.authentications.transition(randomUUID(), 'pending', 'denied', 'invalid_passcode', {}, T0 + 4)).toBe(false);
      });

      it('clears method fields with null and keeps them when omitted', async () => {
        const user = await newUser();
        const auth = authentication(user, { methodId: 'm-1', methodType: 'totp' });
        await store.authentications.create(auth);
        await store.authentications.transition(auth.id, 'challenge', 'pending', 'challenge_issued', {}, T0 + 1);
        expect(await store.authentications.get(auth.id)).toMatchObject({ methodId: 'm-1', methodType: 'totp' });
        await store.authentications.transition(auth.id, 'pending', 'denied', 'no_method', { methodId: null, methodType: null }, T0 + 2);
        expect(await store.authentications.get(auth.id)).toMatchObject({ methodId: null, methodType: null, state: 'denied', reason: 'no_method' });
      });

      it('lets exactly one of many concurrent transitions win', async () => {
        const user = await newUser();
        const auth = authentication(user, { state: 'pending' });
        await store.authentications.create(auth);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.authentications.transition(auth.id, 'pending', i % 2 ? 'approved' : 'denied', i % 2 ? 'passcode_ok' : 'invalid_passcode', {}, T0 + i),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        expect((await store.authentications.get(auth.id))?.state).toBe(winner % 2 ? 'approved' : 'denied');
      });

      it('finds the most recent approval for user, application and client address since a time', async () => {
        const user = await newUser();
        const other = await newUser();
        const approved = (over: Partial<Authentication>): Authentication => authentication(user, { state: 'approved', reason: 'passcode_ok', ...over });
        const old = approved({ createdAt: T0 - 10_000 });
        const recent = approved({ createdAt: T0 + 1_000 });
        const latest = approved({ createdAt: T0 + 2_000 });
        for (const a of [
          old,
          recent,
          latest,
          approved({ createdAt: T0 + 5_000, clientIp: '198.51.100.7' }),
          approved({ createdAt: T0 + 5_000, applicationId: 'app-2' }),
          approved({ createdAt: T0 + 5_000, reason: 'cached' }),
          approved({ createdAt: T0 + 5_000, reason: 'trusted_ip' }),
          authentication(user, { createdAt: T0 + 5_000, state: 'denied', reason: 'invalid_passcode' }),
          authentication(user, { createdAt: T0 + 5_000 }),
          authentication(other, { createdAt: T0 + 5_000, state: 'approved', reason: 'passcode_ok' }),
        ]) {
          await store.authentications.create(a);
        }
        expect((await store.authentications.lastApproval(user.id, 'app-1', '192.0.2.10', T0))?.id).toBe(latest.id);
        expect((await store.authentications.lastApproval(user.id, 'app-1', '192.0.2.10', T0 + 2_000))?.id).toBe(latest.id);
        expect(await store.authentications.lastApproval(user.id, 'app-1', '192.0.2.10', T0 + 2_001)).toBeUndefined();
        expect((await store.authentications.lastApproval(user.id, 'app-1', '192.0.2.10', T0 - 20_000))?.id).toBe(latest.id);
        expect(await store.authentications.lastApproval(user.id, 'app-3', '192.0.2.10', 0)).toBeUndefined();
        // An approved phone call counts like an approved code.
        const called = authentication(user, { applicationId: 'app-4', state: 'approved', reason: 'out_of_band_ok', createdAt: T0 + 5_000, updatedAt: T0 + 5_000 });
        await store.authentications.create(called);
        expect((await store.authentications.lastApproval(user.id, 'app-4', '192.0.2.10', T0))?.id).toBe(called.id);
      });

      it('prunes finished authentications and open ones already expired before the cut-off', async () => {
        // Times far below every other test's, so the count is this test's alone.
        const base = 1_000_000;
        const user = await newUser();
        const at = (createdAt: number, state: Authentication['state'], expiresAt = createdAt + 60_000): Authentication =>
          authentication(user, { createdAt, updatedAt: createdAt, expiresAt, state, reason: state === 'approved' ? 'passcode_ok' : 'challenge_issued' });
        const oldApproved = at(base, 'approved');
        const oldDenied = at(base + 1, 'denied');
        const oldExpired = at(base + 2, 'expired');
        const oldOpenExpired = at(base + 3, 'challenge', base + 10);
        const oldOpenLive = at(base + 4, 'pending', base + 1_000_000);
        const newApproved = at(base + 200_000, 'approved');
        for (const a of [oldApproved, oldDenied, oldExpired, oldOpenExpired, oldOpenLive, newApproved]) await store.authentications.create(a);

        // At most `limit` at a time, the oldest first.
        expect(await store.authentications.prune(base + 100_000, 3)).toBe(3);
        for (const gone of [oldApproved, oldDenied, oldExpired]) expect(await store.authentications.get(gone.id)).toBeUndefined();
        expect(await store.authentications.get(oldOpenExpired.id)).toBeDefined();
        expect(await store.authentications.prune(base + 100_000, 100)).toBe(1);
        expect(await store.authentications.get(oldOpenExpired.id)).toBeUndefined();
        expect(await store.authentications.get(oldOpenLive.id)).toBeDefined();
        expect(await store.authentications.get(newApproved.id)).toBeDefined();
        expect(await store.authentications.prune(base + 100_000, 100)).toBe(0);
      });
    });

    describe('api keys', () => {
      it('creates, finds by lookup id, lists, touches and revokes once', async () => {
        const key = { id: randomUUID(), lookupId: unique('lk'), hash: 'ab'.repeat(32), name: 'sdk key', role: 'sdk' as const, createdAt: T0, lastUsedAt: null, revokedAt: null };
        expect(await store.apiKeys.create(key)).toEqual(key);
        expect(await store.apiKeys.getByLookupId(key.lookupId)).toEqual(key);
        expect(await store.apiKeys.getByLookupId(unique('none'))).toBeUndefined();
        expect(await store.apiKeys.list()).toContainEqual(key);

        await store.apiKeys.touch(key.id, T0 + 5);
        expect(await store.apiKeys.getByLookupId(key.lookupId)).toEqual({ ...key, lastUsedAt: T0 + 5 });

        expect(await store.apiKeys.revoke(key.id, T0 + 9)).toBe(true);
        expect(await store.apiKeys.revoke(key.id, T0 + 10)).toBe(false);
        expect(await store.apiKeys.getByLookupId(key.lookupId)).toEqual({ ...key, lastUsedAt: T0 + 5, revokedAt: T0 + 9 });
        expect(await store.apiKeys.revoke(randomUUID(), T0)).toBe(false);
      });

      it('refuses a duplicate lookup id', async () => {
        const lookupId = unique('dup');
        const key = { id: randomUUID(), lookupId, hash: 'cd'.repeat(32), name: 'a', role: 'admin' as const, createdAt: T0, lastUsedAt: null, revokedAt: null };
        await store.apiKeys.create(key);
        await rejectsWith(store.apiKeys.create({ ...key, id: randomUUID(), name: 'b' }), 'conflict');
        expect((await store.apiKeys.getByLookupId(lookupId))?.name).toBe('a');
      });
    });

    describe('audit', () => {
      it('appends with increasing ids and reads every field back', async () => {
        const full = auditEvent({
          at: T0 + 1,
          kind: 'admin',
          action: 'user.create',
          result: 'success',
          reason: 'created',
          username: 'Carol',
          userId: randomUUID(),
          displayName: 'Carol C',
          email: 'carol@example.org',
          phone: '+14155550100',
          device: 'iPhone',
          method: 'totp',
          mode: 'standard',
          application: unique('app'),
          serverName: 'node-1',
          clientIp: '2001:db8::1',
          actor: 'apikey:console',
          authenticationId: randomUUID(),
          details: { changed: ['email'], nested: { n: 1 } },
        });
        const a = await store.audit.append(full);
        const b = await store.audit.append(auditEvent({ application: full.application }));
        expect(Number.isSafeInteger(a)).toBe(true);
        expect(b).toBeGreaterThan(a);
        expect(await store.audit.query({ application: full.application as string, limit: 10 })).toEqual([
          { ...auditEvent({ application: full.application }), id: b },
          { ...full, id: a },
        ]);
      });

      it('filters by every field and pages both ways', async () => {
        const user = unique('Dave');
        const app = unique('app');
        const at0 = 3_000_000; // a time range no other test writes
        const ids: number[] = [];
        const specs: Array<Partial<NewAuditEvent>> = [
          { at: at0 + 0, username: user, application: app, result: 'approved', kind: 'authentication', action: 'authenticate' },
          { at: at0 + 10, username: user.toUpperCase(), application: app, result: 'denied', kind: 'authentication', action: 'authenticate' },
          { at: at0 + 20, username: user, application: 'other', result: 'approved', kind: 'authentication', action: 'authenticate' },
          { at: at0 + 30, username: user, application: null, result: 'success', kind: 'admin', action: 'user.block' },
          { at: at0 + 40, username: 'someone-else', application: app, result: 'denied', kind: 'authentication', action: 'authenticate' },
        ];
        for (const spec of specs) ids.push(await store.audit.append(auditEvent(spec)));
        const [e0, e1, e2, e3, e4] = ids as [number, number, number, number, number];
        const q = async (query: Omit<Parameters<Store['audit']['query']>[0], 'limit'> & { limit?: number }): Promise<number[]> =>
          (await store.audit.query({ limit: 100, ...query })).map((e) => e.id);

        expect(await q({ username: user })).toEqual([e3, e2, e1, e0]);
        expect(await q({ username: user.toUpperCase() })).toEqual([e3, e2, e1, e0]);
        expect(await q({ application: app })).toEqual([e4, e1, e0]);
        expect(await q({ username: user, application: app })).toEqual([e1, e0]);
        expect(await q({ application: app, result: 'denied' })).toEqual([e4, e1]);
        expect(await q({ username: user, kind: 'admin' })).toEqual([e3]);
        expect(await q({ username: user, action: 'user.block' })).toEqual([e3]);
        expect(await q({ username: user, action: 'authenticate', kind: 'authentication' })).toEqual([e2, e1, e0]);
        // Any of several actions.
        expect(await q({ username: user, action: ['user.block', 'authenticate'] })).toEqual([e3, e2, e1, e0]);
        expect(await q({ username: user, action: ['user.block', 'user.unblock'] })).toEqual([e3]);
        // `from` is inclusive, `to` exclusive.
        expect(await q({ from: at0 + 10, to: at0 + 40 })).toEqual([e3, e2, e1]);
        expect(await q({ from: at0 + 40, to: at0 + 41 })).toEqual([e4]);
        expect(await q({ from: at0 + 41, to: at0 + 1000 })).toEqual([]);
        // Newest first, paging down with `before`.
        expect(await q({ username: user, limit: 2 })).toEqual([e3, e2]);
        expect(await q({ username: user, limit: 2, before: e2 })).toEqual([e1, e0]);
        expect(await q({ username: user, limit: 2, before: e0 })).toEqual([]);
        // Oldest first when tailing with `after`.
        expect(await q({ username: user, after: e0 })).toEqual([e1, e2, e3]);
        expect(await q({ username: user, after: e0, limit: 1 })).toEqual([e1]);
        expect(await q({ from: at0, to: at0 + 1000, after: e0, before: e4 })).toEqual([e1, e2, e3]);
      });

      it('refuses a non-positive limit', async () => {
        await rejectsWith(store.audit.query({ limit: 0 }), 'validation_failed');
      });

      it('prunes events older than the cut-off, the oldest first, a batch at a time', async () => {
        // Times far below every other test's, so the counts are this test's alone.
        const base = 1_000_000;
        const app = unique('prune');
        const old = [];
        for (let i = 0; i < 5; i++) old.push(await store.audit.append(auditEvent({ at: base + i, application: app })));
        const kept = await store.audit.append(auditEvent({ at: base + 100, application: app }));
        expect(await store.audit.prune(base + 100, 2)).toBe(2);
        expect((await store.audit.query({ application: app, limit: 10 })).map((e) => e.id)).toEqual([kept, ...old.slice(2).reverse()]);
        expect(await store.audit.prune(base + 100, 100)).toBe(3);
        expect(await store.audit.prune(base + 100, 100)).toBe(0);
        expect((await store.audit.query({ application: app, limit: 10 })).map((e) => e.id)).toEqual([kept]);
      });

      it('never prunes the newest event, so that ids keep growing after everything else is gone', async () => {
        // Runs last among the audit cases: it empties the table but for one event.
        const newest = await store.audit.append(auditEvent({ at: 2_000_000, application: unique('newest') }));
        expect(await store.audit.prune(Number.MAX_SAFE_INTEGER, 1_000_000)).toBeGreaterThan(0);
        expect((await store.audit.query({ limit: 10 })).map((e) => e.id)).toEqual([newest]);
        expect(await store.audit.append(auditEvent({ at: 1 }))).toBeGreaterThan(newest);
      });
    });

    describe('reports', () => {
      it('counts final authentication results per bucket, method and application in SQL; challenges and other events are not counted', async () => {
        const HOUR = 3_600_000;
        const base = Date.UTC(2001, 0, 1, 0, 0, 0); // a time range no other test writes
        const app = unique('vpn');
        const events: Array<Partial<NewAuditEvent>> = [
          { at: base - 1, result: 'approved', method: 'totp', application: app }, // before the range
          { at: base, result: 'approved', method: 'totp', application: app },
          { at: base + 10, result: 'denied', method: 'totp', application: app },
          { at: base + HOUR - 1, result: 'denied', method: null, application: app, reason: 'user_not_found' },
          { at: base + 20, result: 'challenge', method: 'totp', application: app },
          { at: base + 30, result: 'expired', method: 'totp', application: 'portal' },
          { at: base + 2 * HOUR, result: 'approved', method: 'hotp', application: 'portal' },
          { at: base + 2 * HOUR + 5, result: 'denied', action: 'sign_in', method: null, application: 'console' },
          { at: base + 2 * HOUR + 6, result: 'success', kind: 'admin', action: 'user.create', application: null },
          { at: base + 3 * HOUR, result: 'approved', method: 'totp', application: app }, // `to` is exclusive
        ];
        for (const e of events) await store.audit.append(auditEvent(e));
        const counts = await store.reports.signIns({ from: base, to: base + 3 * HOUR, bucketMs: HOUR });
        expect(counts.series).toEqual([
          { at: base, approved: 1, denied: 2, expired: 1 },
          { at: base + 2 * HOUR, approved: 1, denied: 0, expired: 0 },
        ]);
        expect(counts.byMethod).toEqual([
          { method: 'hotp', approved: 1, denied: 0 },
          { method: 'none', approved: 0, denied: 1 },
          { method: 'totp', approved: 1, denied: 1 },
        ]);
        expect(counts.byApplication).toEqual([
          { application: 'portal', approved: 1, denied: 0 },
          { application: app, approved: 1, denied: 2 },
        ].sort((a, b) => (a.application < b.application ? -1 : 1)));
        const days = await store.reports.signIns({ from: base - 86_400_000, to: base + 86_400_000, bucketMs: 86_400_000 });
        expect(days.series).toEqual([
          { at: base - 86_400_000, approved: 1, denied: 0, expired: 0 },
          { at: base, approved: 3, denied: 2, expired: 1 },
        ]);
        await rejectsWith(store.reports.signIns({ from: base, to: base + 1, bucketMs: 0 }), 'validation_failed');
      });

      it('counts users by effective state: disabled > blocked > locked > enabled', async () => {
        const before = await store.reports.userStates();
        const plain = await newUser();
        const disabled = await newUser({ status: 'disabled' });
        await store.users.setBlocked(disabled.id, { at: T0, reason: 'x' }, T0); // disabled wins
        const blocked = await newUser();
        await store.users.setBlocked(blocked.id, { at: T0, reason: 'x' }, T0);
        await store.users.recordFailure(blocked.id, 1, T0); // blocked wins over locked
        const locked = await newUser();
        await store.users.recordFailure(locked.id, 1, T0);
        const after = await store.reports.userStates();
        expect({
          total: after.total - before.total,
          enabled: after.enabled - before.enabled,
          disabled: after.disabled - before.disabled,
          blocked: after.blocked - before.blocked,
          locked: after.locked - before.locked,
        }).toEqual({ total: 4, enabled: 1, disabled: 1, blocked: 1, locked: 1 });
        expect(after.total).toBe(after.enabled + after.disabled + after.blocked + after.locked);
        expect(after.total).toBe(await store.users.count());
        await store.users.resetFailures(locked.id, T0);
        expect((await store.reports.userStates()).locked).toBe(after.locked - 1);
        expect(plain.status).toBe('enabled');
      });
    });

    describe('sessions', () => {
      const session = (userId: string, over: Partial<SessionRecord> = {}): SessionRecord => ({
        idHash: randomBytes(32).toString('hex'),
        kind: 'console',
        userId,
        stage: 'second_factor',
        csrf: randomBytes(16).toString('hex'),
        data: { authenticationId: 'a1' },
        clientIp: '192.0.2.1',
        createdAt: T0,
        lastSeenAt: T0,
        expiresAt: T0 + 3_600_000,
        ...over,
      });

      it('creates, reads every field back, updates only the fields given, and deletes', async () => {
        const user = await newUser();
        const s = session(user.id, { data: { authenticationId: 'a1', nested: { n: 1 } } });
        await store.sessions.create(s);
        expect(await store.sessions.get(s.idHash)).toEqual(s);
        expect(await store.sessions.get(randomBytes(32).toString('hex'))).toBeUndefined();
        expect(await store.sessions.update(s.idHash, { stage: 'enroll' })).toBe(true);
        expect(await store.sessions.get(s.idHash)).toEqual({ ...s, stage: 'enroll' });
        expect(await store.sessions.update(s.idHash, { data: { methodId: 'm1' }, lastSeenAt: T0 + 5 })).toBe(true);
        expect(await store.sessions.get(s.idHash)).toEqual({ ...s, stage: 'enroll', data: { methodId: 'm1' }, lastSeenAt: T0 + 5 });
        expect(await store.sessions.update(s.idHash, {})).toBe(true);
        expect(await store.sessions.delete(s.idHash)).toBe(true);
        expect(await store.sessions.delete(s.idHash)).toBe(false);
        expect(await store.sessions.update(s.idHash, { stage: 'complete' })).toBe(false);
        expect(await store.sessions.update(s.idHash, {})).toBe(false);
      });

      it('renames for exactly one of many concurrent callers, from any store; the old id stops working', async () => {
        const user = await newUser();
        const s = session(user.id);
        await store.sessions.create(s);
        const stores = [store, await openAnother(BASE_KEYRING)];
        const nexts = Array.from({ length: 8 }, () => session(user.id, { idHash: randomBytes(32).toString('hex'), stage: 'complete', data: { reauthAt: T0 } }));
        const results = await Promise.all(nexts.map((n, i) => (stores[i % 2] as Store).sessions.rename(s.idHash, n)));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = nexts[results.indexOf(true)] as SessionRecord;
        expect(await store.sessions.get(s.idHash)).toBeUndefined();
        expect(await store.sessions.get(winner.idHash)).toEqual(winner);
        for (const [i, n] of nexts.entries()) if (!results[i]) expect(await store.sessions.get(n.idHash)).toBeUndefined();
        expect(await store.sessions.rename(s.idHash, session(user.id))).toBe(false);
      });

      it('ends every session of a user, or those of one kind, and no one else\'s', async () => {
        const user = await newUser();
        const other = await newUser();
        const mine = [session(user.id), session(user.id, { kind: 'portal' }), session(user.id, { kind: 'portal' })];
        const theirs = session(other.id);
        for (const s of [...mine, theirs]) await store.sessions.create(s);
        expect(await store.sessions.deleteForUser(user.id, 'portal')).toBe(2);
        expect(await store.sessions.get((mine[0] as SessionRecord).idHash)).toBeDefined();
        expect(await store.sessions.deleteForUser(user.id)).toBe(1);
        expect(await store.sessions.deleteForUser(user.id)).toBe(0);
        expect(await store.sessions.get(theirs.idHash)).toEqual(theirs);
        // Deleting the user takes their sessions with them.
        await store.users.delete(other.id);
        expect(await store.sessions.get(theirs.idHash)).toBeUndefined();
      });

      it('prunes sessions past their absolute end or idle too long, and keeps the others', async () => {
        const user = await newUser();
        const far = T0 + 400 * 86_400_000; // later than any other test's sessions
        const ended = session(user.id, { createdAt: far - 10, lastSeenAt: far - 1, expiresAt: far });
        const idle = session(user.id, { createdAt: far - 10, lastSeenAt: far - 601, expiresAt: far + 3_600_000 });
        const live = session(user.id, { createdAt: far - 10, lastSeenAt: far - 600, expiresAt: far + 3_600_000 });
        for (const s of [ended, idle, live]) await store.sessions.create(s);
        const pruned = await store.sessions.prune(far, far - 600);
        expect(pruned).toBeGreaterThanOrEqual(2);
        expect(await store.sessions.get(ended.idHash)).toBeUndefined();
        expect(await store.sessions.get(idle.idHash)).toBeUndefined();
        expect(await store.sessions.get(live.idHash)).toEqual(live);
        expect(await store.sessions.prune(far, far - 600)).toBe(0);
      });
    });

    describe('directory sync', () => {
      const counts = { seen: 0, added: 0, updated: 0, unchanged: 0, disabled: 0, enabled: 0, removed: 0, errors: 0, skipped: 0 };
      const newRun = (directory: string, over: Partial<SyncRun> = {}): SyncRun => ({
        id: randomUUID(),
        directory,
        mode: 'full',
        trigger: 'manual',
        status: 'running',
        node: 'node-a:1',
        startedAt: T0,
        finishedAt: null,
        counts,
        errors: [],
        pending: [],
        failure: null,
        decidedBy: null,
        decidedAt: null,
        ...over,
      });

      it('stores entry digests, replaces them, finds them by id, and drops them with the user', async () => {
        const dir = unique('dir');
        const a = await newUser({ source: { kind: 'directory', directory: dir, externalId: 'ext-a' } });
        const b = await newUser({ source: { kind: 'directory', directory: dir, externalId: 'ext-b' } });
        await store.directorySync.putEntries(dir, [
          { externalId: 'ext-a', userId: a.id, digest: 'd1', disabledBySync: false },
          { externalId: 'ext-b', userId: b.id, digest: 'd2', disabledBySync: true },
        ]);
        await store.directorySync.putEntries(dir, [{ externalId: 'ext-a', userId: a.id, digest: 'd3', disabledBySync: true }]);
        const found = await store.directorySync.entries(dir, ['ext-a', 'ext-b', 'ext-missing']);
        expect([...found.keys()].sort()).toEqual(['ext-a', 'ext-b']);
        expect(found.get('ext-a')).toEqual({ externalId: 'ext-a', userId: a.id, digest: 'd3', disabledBySync: true });
        expect(found.get('ext-b')?.disabledBySync).toBe(true);
        // Another directory's entries are separate.
        expect((await store.directorySync.entries(unique('dir'), ['ext-a'])).size).toBe(0);
        await store.users.delete(b.id);
        expect((await store.directorySync.entries(dir, ['ext-b'])).size).toBe(0);
        await store.directorySync.deleteEntries(dir, ['ext-a']);
        expect((await store.directorySync.entries(dir, ['ext-a'])).size).toBe(0);
        await expect(store.directorySync.entries(dir, Array.from({ length: 1001 }, (_, i) => `x${i}`))).rejects.toThrow(RangeError);
      });

      it('creates many users in one call, refusing taken names and directory ids one by one', async () => {
        const dir = unique('dir');
        const taken = await newUser();
        const a = unique('many');
        const results = await store.users.createMany(
          [
            { user: { username: a, source: { kind: 'directory', directory: dir, externalId: 'm1' } }, id: randomUUID() },
            { user: { username: taken.username.toUpperCase() }, id: randomUUID() },
            { user: { username: unique('many'), source: { kind: 'directory', directory: dir, externalId: 'm1' } }, id: randomUUID() },
            { user: { username: unique('many'), displayName: 'Many Three' }, id: randomUUID() },
          ],
          T0,
        );
        expect(results.map((r) => (isCoreError(r) ? r.code : 'created'))).toEqual(['created', 'user_exists', 'user_exists', 'created']);
        expect(await store.users.getByUsername(a)).toMatchObject({ source: { kind: 'directory', directory: dir, externalId: 'm1' } });
        expect((await store.users.getManyBySource(dir, ['m1', 'm2'])).map((u) => u.username)).toEqual([a]);
        expect(await store.users.createMany([], T0)).toEqual([]);
      });

      it('pages through the users of one directory by id', async () => {
        const dir = unique('dir');
        const made = [];
        for (let i = 0; i < 5; i++) made.push(await newUser({ source: { kind: 'directory', directory: dir, externalId: `e${i}` } }));
        await newUser();
        const seen: string[] = [];
        for (let after: string | null = null; ; ) {
          const page = await store.directorySync.members(dir, after, 2);
          if (page.length === 0) break;
          expect(page.length).toBeLessThanOrEqual(2);
          seen.push(...page.map((m) => m.externalId));
          after = page[page.length - 1]!.id;
        }
        expect(seen.sort()).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
      });

      it('keeps state and runs; a status transition succeeds once', async () => {
        const dir = unique('dir');
        expect(await store.directorySync.getState(dir)).toBeUndefined();
        await store.directorySync.putState({ directory: dir, cursor: { attribute: 'entryCSN', value: '20261201000000.000000Z#000000#000#000000', url: 'ldap://a' }, lastFullAt: T0, lastRunAt: T0 });
        await store.directorySync.putState({ directory: dir, cursor: null, lastFullAt: T0, lastRunAt: T0 + 5 });
        expect(await store.directorySync.getState(dir)).toEqual({ directory: dir, cursor: null, lastFullAt: T0, lastRunAt: T0 + 5 });

        const older = newRun(dir);
        const newer = newRun(dir, { startedAt: T0 + 10, status: 'awaiting_approval', pending: [{ userId: 'u', username: 'x', externalId: 'e', action: 'disable', reason: 'left_scope' }] });
        await store.directorySync.createRun(older);
        await store.directorySync.createRun(newer);
        await store.directorySync.saveRun({ ...older, status: 'completed', finishedAt: T0 + 3, counts: { ...counts, added: 7 }, errors: [{ dn: 'cn=x', username: 'x', code: 'c', message: 'm' }] });
        expect(await store.directorySync.getRun(older.id)).toMatchObject({ status: 'completed', finishedAt: T0 + 3, counts: { added: 7 }, errors: [{ code: 'c' }] });
        expect((await store.directorySync.listRuns({ directory: dir, limit: 10 })).map((r) => r.id)).toEqual([newer.id, older.id]);
        expect((await store.directorySync.listRuns({ directory: dir, status: 'awaiting_approval', limit: 10 })).map((r) => r.id)).toEqual([newer.id]);

        const other = await openAnother(BASE_KEYRING);
        const results = await Promise.all([
          store.directorySync.transitionRun(newer.id, 'awaiting_approval', 'approved', { decidedBy: 'apikey:a', decidedAt: T0 + 20 }),
          other.directorySync.transitionRun(newer.id, 'awaiting_approval', 'rejected', { decidedBy: 'apikey:b', decidedAt: T0 + 21 }),
        ]);
        expect(results.filter(Boolean).length).toBe(1);
        const decided = await store.directorySync.getRun(newer.id);
        expect(decided?.status).toBe(results[0] ? 'approved' : 'rejected');
        expect(decided?.pending).toHaveLength(1);
      });
    });

    describe('leases', () => {
      it('has one holder at a time, renews for the holder, and passes on when it expires or is released', async () => {
        const name = unique('lease');
        const other = await openAnother(BASE_KEYRING);
        expect(await store.leases.acquire(name, 'a', 1000, T0)).toBe(true);
        expect(await other.leases.acquire(name, 'b', 1000, T0 + 500)).toBe(false);
        expect(await store.leases.acquire(name, 'a', 1000, T0 + 900)).toBe(true);
        expect(await other.leases.holder(name, T0 + 1800)).toBe('a');
        expect(await other.leases.acquire(name, 'b', 1000, T0 + 1800)).toBe(false);
        expect(await other.leases.acquire(name, 'b', 1000, T0 + 1900)).toBe(true);
        expect(await store.leases.holder(name, T0 + 1900)).toBe('b');
        await store.leases.release(name, 'a');
        expect(await store.leases.holder(name, T0 + 1900)).toBe('b');
        await other.leases.release(name, 'b');
        expect(await store.leases.holder(name, T0 + 1900)).toBeUndefined();
      });

      it('gives a free lease to exactly one of many concurrent callers on separate connections', async () => {
        const name = unique('lease');
        const stores = [store, await openAnother(BASE_KEYRING), await openAnother(BASE_KEYRING)];
        const results = await Promise.all(stores.flatMap((s, i) => [0, 1, 2].map((j) => s.leases.acquire(name, `n${i}-${j}`, 60_000, T0))));
        expect(results.filter(Boolean).length).toBe(1);
      });
    });

    describe('settings', () => {
      it('stores JSON values per key and overwrites them', async () => {
        await store.settings.put('lockout', { threshold: 5, autoUnlockSeconds: 600 }, T0);
        await store.settings.put('trustedIps', ['10.0.0.0/8'], T0);
        await store.settings.put('cacheSeconds', 0, T0);
        await store.settings.put('defaultLanguage', 'de', T0);
        expect(await store.settings.get()).toMatchObject({
          lockout: { threshold: 5, autoUnlockSeconds: 600 },
          trustedIps: ['10.0.0.0/8'],
          cacheSeconds: 0,
          defaultLanguage: 'de',
        });
        await store.settings.put('lockout', { threshold: 3 }, T0 + 1);
        expect((await store.settings.get()).lockout).toEqual({ threshold: 3 });
        // Another store on the same database sees the same values.
        const another = await openAnother(BASE_KEYRING);
        expect((await another.settings.get()).lockout).toEqual({ threshold: 3 });
      });
    });
  });
}
