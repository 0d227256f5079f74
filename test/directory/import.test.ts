import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDirectoryUsers } from '../../src/directory/import.ts';
import { activeDirectory, guidToString, mapEntry, openldap, withOverrides, AttributeMapError } from '../../src/directory/presets.ts';
import { scopeFilter, searchUsers, DirectorySearchError } from '../../src/directory/search.ts';
import { directorySource, type DirectorySource } from '../../src/directory/source.ts';
import { createTestCore, cliActor, type TestCore } from '../support/harness.ts';
import { AD_OU, BASE_DN, groupDn, slapdAvailable, startSlapd, type Slapd } from '../support/slapd.ts';

const ERIN_GUID = '33221100-5544-7766-8899-aabbccddeeff';
const names = (r: { users: { input: { username: string } }[] }): string[] => r.users.map((u) => u.input.username).sort();

describe('attribute presets (pure)', () => {
  it('renders an AD objectGUID in canonical form', () => {
    expect(guidToString(Buffer.from('00112233445566778899aabbccddeeff', 'hex'))).toBe(ERIN_GUID);
    expect(() => guidToString(Buffer.alloc(15))).toThrow(RangeError);
  });

  it('maps an AD entry, honours the disabled bit and drops a bad phone with a warning', () => {
    const entry = {
      dn: 'CN=Frank,OU=ad,DC=x',
      sAMAccountName: 'frank',
      objectGUID: Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
      userAccountControl: '514',
      displayName: 'Frank Fox',
      mail: 'frank@example.test',
      mobile: 'call me maybe',
      telephoneNumber: '+44 20 7183 8750',
      preferredLanguage: 'fr-CA, en;q=0.5',
    };
    const u = mapEntry(entry, activeDirectory);
    expect(u).toMatchObject({ externalId: ERIN_GUID, disabled: true, input: { username: 'frank', displayName: 'Frank Fox', email: 'frank@example.test', language: 'fr-CA', backupPhone: { number: '+442071838750' } } });
    expect(u.input.phone).toBeUndefined();
    expect(u.warnings).toHaveLength(1);
    expect(u.warnings[0]).toMatch(/^mobile dropped/);
    // An unreadable flag fails closed; bit clear is enabled.
    expect(mapEntry({ ...entry, userAccountControl: 'junk' }, activeDirectory).disabled).toBe(true);
    expect(mapEntry({ ...entry, userAccountControl: '66048' }, activeDirectory).disabled).toBe(false);
    expect(() => mapEntry({ ...entry, objectGUID: Buffer.alloc(3) }, activeDirectory)).toThrow(/objectGUID/);
    expect(() => mapEntry({ dn: 'cn=x', objectGUID: entry.objectGUID }, activeDirectory)).toThrow(/sAMAccountName or userPrincipalName/);
  });

  it('remaps attributes with a checked partial override', () => {
    const map = withOverrides(openldap, { email: 'otherMail', phone: 'pager' });
    const u = mapEntry({ dn: 'uid=a', uid: 'a', entryUUID: 'ABC-1', otherMail: 'a@b.test', mail: 'no@b.test', pager: '+14155550100' }, map);
    expect(u.input).toMatchObject({ email: 'a@b.test', phone: { number: '+14155550100' } });
    expect(u.externalId).toBe('abc-1');
    expect(() => withOverrides(openldap, { email: 'mail)(x=*' })).toThrow(AttributeMapError);
    expect(() => withOverrides(activeDirectory, { disabled: { attribute: 'userAccountControl', bit: 0 } })).toThrow(/disabled.bit/);
  });

  it('escapes DNs and name queries in filters', () => {
    expect(scopeFilter(activeDirectory, { kind: 'group', dn: 'CN=VPN (all)*,DC=x' })).toBe('(&(sAMAccountType=805306368)(memberOf:1.2.840.113556.1.4.1941:=CN=VPN \\28all\\29\\2a,DC=x))');
    expect(scopeFilter(openldap, { kind: 'name', query: '*)(uid=*' })).toBe('(&(objectClass=inetOrgPerson)(|(uid=*\\2a\\29\\28uid=\\2a*)(displayName=*\\2a\\29\\28uid=\\2a*)(cn=*\\2a\\29\\28uid=\\2a*)))');
  });
});

const haveSlapd = slapdAvailable();

describe.skipIf(!haveSlapd)('directory import against slapd', () => {
  let ldap: Slapd;
  let source: DirectorySource;
  let t: TestCore;
  const ad = withOverrides(activeDirectory, { groupMembership: 'member' });

  beforeAll(async () => {
    ldap = await startSlapd({ ad: true });
    source = directorySource({ urls: [ldap.url], bindDn: ldap.bindDn, bindPassword: ldap.bindPassword, baseDn: ldap.baseDn, startTls: true, caPem: ldap.caPem });
    t = await createTestCore();
  }, 30_000);
  afterAll(async () => {
    await t?.close();
    await ldap?.stop();
  });

  it('searches an OU with either preset, paged', async () => {
    const adUsers = await searchUsers(source, activeDirectory, { kind: 'ou', dn: AD_OU }, { pageSize: 1 });
    expect(names(adUsers)).toEqual(['erin', 'frank', 'grace@example.test']);
    expect(adUsers.users.find((u) => u.input.username === 'erin')).toMatchObject({ externalId: ERIN_GUID, disabled: false, input: { language: 'de', phone: { number: '+14155550101' } } });
    expect(adUsers.users.find((u) => u.input.username === 'frank')).toMatchObject({ disabled: true, warnings: [expect.stringMatching(/^telephoneNumber dropped/)] });
    const people = await searchUsers(source, openldap, { kind: 'ou', dn: `ou=people,${BASE_DN}` }, { pageSize: 2 });
    expect(names(people)).toEqual(['alice', 'bob', 'carol', 'dave', 'dup']);
    expect(people.users[0]?.externalId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('resolves group members: nested via member, direct via memberOf', async () => {
    expect(names(await searchUsers(source, openldap, { kind: 'group', dn: groupDn('staff') }))).toEqual(['alice', 'carol']);
    expect(names(await searchUsers(source, ad, { kind: 'group', dn: groupDn('vpn') }))).toEqual(['erin', 'frank']);
    const direct = withOverrides(activeDirectory, { groupMembership: 'memberOf' });
    expect(names(await searchUsers(source, direct, { kind: 'group', dn: groupDn('vpn') }))).toEqual(['frank']);
    // The AD in-chain rule is unknown to OpenLDAP: the filter matches nothing rather than everything.
    const inChain = await searchUsers(source, activeDirectory, { kind: 'group', dn: groupDn('vpn') });
    expect(inChain.users).toEqual([]);
    // A scope that is not a group, or no group at all, is an error, never an empty group: for a
    // sync item, an empty group would look like everyone had left it.
    await expect(searchUsers(source, openldap, { kind: 'group', dn: `uid=alice,ou=people,${BASE_DN}` })).rejects.toThrow(/is not a group/);
    await expect(searchUsers(source, openldap, { kind: 'group', dn: groupDn('no-such-group') })).rejects.toMatchObject({ field: 'scope.dn', message: /no such group/ });
    await expect(searchUsers(source, openldap, { kind: 'group', dn: 'cn=vpn,dc=elsewhere,dc=test' })).rejects.toThrow(/outside the base DN/);
    await expect(searchUsers(source, openldap, { kind: 'ou', dn: `ou=nowhere,${BASE_DN}` })).rejects.toMatchObject({ field: 'scope.dn', message: /no such entry/ });
    // A limit stops reading early.
    expect((await searchUsers(source, openldap, { kind: 'ou', dn: BASE_DN }, { pageSize: 2, maxUsers: 3 })).users.length).toBeLessThanOrEqual(3);
  });

  it('finds users by name and treats filter syntax in the query as text', async () => {
    expect(names(await searchUsers(source, openldap, { kind: 'name', query: 'ali' }))).toEqual(['alice']);
    expect(names(await searchUsers(source, openldap, { kind: 'name', query: 'chen' }))).toEqual(['carol']);
    for (const query of ['*', '*)(uid=*', ')(|(uid=*', 'a*)(objectClass=*', '\\2a', 'x)(|(cn=*))']) {
      expect(names(await searchUsers(source, openldap, { kind: 'name', query })), query).toEqual([]);
    }
    await expect(searchUsers(source, openldap, { kind: 'name', query: 'a\u0000b' })).rejects.toBeInstanceOf(DirectorySearchError);
    await expect(searchUsers(source, openldap, { kind: 'name', query: '' })).rejects.toThrow(/scope.query/);
  });

  it('imports by group and by OU, honours the disabled bit, updates on re-import without duplicates', async () => {
    const deps = { core: t.core, store: t.store, actor: cliActor };
    const opts = { directory: 'corp-ad', defaults: { language: 'fr', defaultMethod: 'totp' as const } };
    const byGroup = await importDirectoryUsers(deps, (await searchUsers(source, ad, { kind: 'group', dn: groupDn('vpn') })).users, opts);
    expect(byGroup).toMatchObject({ total: 2, created: 2, updated: 0, disabled: 1, errors: [] });
    expect(byGroup.warnings).toEqual([{ dn: `cn=frank,${AD_OU}`, message: expect.stringMatching(/^telephoneNumber dropped/) }]);
    const erin = await t.core.users.get('erin');
    expect(erin).toMatchObject({ state: 'enabled', language: 'de', defaultMethod: 'totp', email: 'erin@example.test', source: { kind: 'directory', directory: 'corp-ad', externalId: ERIN_GUID } });
    expect((await t.core.users.get('frank')).state).toBe('disabled');
    expect((await t.core.users.get('frank')).language).toBe('fr');

    const progress: number[] = [];
    const byOu = await importDirectoryUsers(deps, (await searchUsers(source, activeDirectory, { kind: 'ou', dn: AD_OU })).users, opts, (done) => progress.push(done));
    expect(byOu).toMatchObject({ total: 3, created: 1, updated: 0, unchanged: 2, disabled: 0, errors: [] });
    expect(progress).toEqual([1, 2, 3]);

    // The directory changes erin's mail and renames her: same user, updated, audited.
    const changed = (await searchUsers(source, activeDirectory, { kind: 'ou', dn: AD_OU })).users.map((u) =>
      u.externalId === ERIN_GUID ? { ...u, input: { ...u.input, username: 'erin.evans', email: 'erin.evans@example.test' } } : u,
    );
    const again = await importDirectoryUsers(deps, changed, opts);
    expect(again).toMatchObject({ total: 3, created: 0, updated: 1, unchanged: 2, errors: [] });
    expect(await t.core.users.count()).toBe(3);
    const renamed = await t.core.users.get('erin.evans');
    expect(renamed).toMatchObject({ id: erin.id, email: 'erin.evans@example.test' });
    const audit = await t.core.audit.query({ username: 'erin.evans', limit: 10 } as never);
    expect(audit.map((e) => e.action)).toContain('user.update');
  });

  it('never overwrites a local user with the same name, and imports the OpenLDAP preset', async () => {
    const deps = { core: t.core, store: t.store, actor: cliActor };
    await t.core.users.create({ username: 'alice', email: 'local-alice@example.test' }, cliActor);
    const report = await importDirectoryUsers(deps, (await searchUsers(source, openldap, { kind: 'group', dn: groupDn('staff') })).users, { directory: 'corp-ldap' });
    expect(report).toMatchObject({ total: 2, created: 1, updated: 0, disabled: 0 });
    expect(report.errors).toEqual([{ dn: `uid=alice,ou=people,${BASE_DN}`, username: 'alice', code: 'source_conflict', message: expect.stringMatching(/local user/) }]);
    expect(await t.core.users.get('alice')).toMatchObject({ email: 'local-alice@example.test', source: { kind: 'local' } });
    expect(await t.core.users.get('carol')).toMatchObject({ displayName: 'Carol Chen', source: { kind: 'directory', directory: 'corp-ldap' } });
    await expect(importDirectoryUsers(deps, [], { directory: 'bad name' })).rejects.toThrow(/directory/);
  });
});
