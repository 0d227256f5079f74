/**
 * The first factor front doors use, as the server composes it (openContext on a real
 * configuration), against a real slapd: directory users bind to their directory, local users check
 * their argon2id password, Countersign's disabled/blocked/locked state comes first, and unknown
 * names and injection attempts never sign anyone in.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/core/api.ts';
import type { FirstFactorRegistry } from '../../src/core/first-factor/by-source.ts';
import { loadConfig } from '../../src/config/load.ts';
import { importDirectoryUsers } from '../../src/directory/import.ts';
import { mapFromConfig, sourceFromConfig } from '../../src/directory/config.ts';
import { searchUsers } from '../../src/directory/search.ts';
import { openContext, type Context } from '../../src/server.ts';
import { installation, removeDir } from '../cli/run.ts';
import { BASE_DN, slapdAvailable, startSlapd, type Slapd } from '../support/slapd.ts';

const haveSlapd = slapdAvailable();
const admin: Actor = { kind: 'cli', name: 'test', role: 'admin' };

describe.skipIf(!haveSlapd)('first factor by user source (server composition) against slapd', () => {
  let ldap: Slapd;
  let dir: string;
  let ctx: Context;
  let factors: FirstFactorRegistry;

  beforeAll(async () => {
    ldap = await startSlapd();
    dir = (await installation('first-factor')).dir;
    await writeFile(path.join(dir, 'ldap-ca.pem'), ldap.caPem);
    const file = path.join(dir, 'countersign.yaml');
    const yaml = parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    yaml['directories'] = [
      { name: 'ldap', preset: 'openldap', urls: [ldap.url], bindDn: ldap.bindDn, bindPassword: ldap.bindPassword, baseDn: ldap.baseDn, startTls: true, caFile: 'ldap-ca.pem' },
    ];
    await writeFile(file, stringify(yaml));
    const config = await loadConfig({ file, env: {} });
    ctx = await openContext(config);
    const d = config.directories[0]!;
    const found = await searchUsers(await sourceFromConfig(d), mapFromConfig(d), { kind: 'ou', dn: `ou=people,${BASE_DN}` });
    const report = await importDirectoryUsers({ core: ctx.core, store: ctx.store, actor: admin }, found.users.filter((u) => !['dup', 'carol'].includes(u.input.username)), { directory: 'ldap' });
    expect(report).toMatchObject({ created: 3, errors: [] });
    await ctx.core.users.create({ username: 'lucy' }, admin);
    await ctx.core.users.setPassword('lucy', 'Lucy-local-password-9', admin);
    await ctx.core.settings.update({ lockout: { threshold: 3 } } as never, admin);
    factors = await ctx.firstFactors();
  }, 60_000);

  afterAll(async () => {
    await ctx?.close();
    await ldap?.stop();
    if (dir) await removeDir(dir);
  });

  const alice = (): { password: string } => ldap.users.find((u) => u.uid === 'alice')!;

  it('offers user, local and one provider per directory; an unknown name is refused with the choices', () => {
    expect(factors.names()).toEqual(['directory:ldap', 'local', 'user']);
    expect(() => factors.resolve('radius')).toThrow('unknown first factor "radius" (available: directory:ldap, local, user)');
  });

  it('a directory user binds to their directory; a local user checks their local password', async () => {
    const user = factors.resolve('user');
    expect(await user.verify('alice', alice().password)).toMatchObject({ ok: true, dn: `uid=alice,ou=people,${BASE_DN}` });
    expect(await user.verify('lucy', 'Lucy-local-password-9')).toMatchObject({ ok: true });
    expect(await user.verify('lucy', 'wrong-password-123')).toEqual({ ok: false, reason: 'invalid_credentials' });
    // A directory user has no local password: the local provider never accepts them.
    expect(await factors.resolve('local').verify('alice', alice().password)).toEqual({ ok: false, reason: 'unknown_user' });
    // carol is not imported: the user router does not know her; the directory provider does.
    expect(await user.verify('carol', 'carol-pass-3')).toEqual({ ok: false, reason: 'unknown_user' });
    expect(await factors.resolve('directory:ldap').verify('carol', 'carol-pass-3')).toMatchObject({ ok: true });
    expect(await user.verify('nobody', 'whatever-1')).toEqual({ ok: false, reason: 'unknown_user' });
    expect(await user.verify('alice', '')).toEqual({ ok: false, reason: 'empty_password' });
  });

  it("Countersign's own state comes first: disabled in the directory, disabled or blocked here, locked after wrong directory passwords", async () => {
    const user = factors.resolve('user');
    // dave is locked in the directory, so the import created him disabled.
    expect(await user.verify('dave', 'dave-pass-4')).toEqual({ ok: false, reason: 'account_disabled' });
    await ctx.core.users.block('bob', 'lost laptop', admin);
    expect(await user.verify('bob', 'b0b*(pass)\\')).toEqual({ ok: false, reason: 'account_disabled' });

    for (let i = 0; i < 3; i++) expect(await user.verify('carol2', 'x')).toMatchObject({ ok: false });
    for (let i = 0; i < 3; i++) expect(await user.verify('alice', `wrong-${i}`)).toEqual({ ok: false, reason: 'invalid_credentials' });
    expect(await ctx.core.users.get('alice')).toMatchObject({ state: 'locked' });
    expect(await user.verify('alice', alice().password)).toEqual({ ok: false, reason: 'account_locked' });
    await ctx.core.users.unlock('alice', admin);
    expect(await user.verify('alice', alice().password)).toMatchObject({ ok: true });
  });

  it('injection usernames with a real password never sign anyone in', async () => {
    const user = factors.resolve('user');
    const names = ['*', 'al*', '*)(uid=*))(|(uid=*', 'alice)(|(uid=*', 'alice\\00', '\\2a', 'alice*', ' alice', 'ALICE)(objectClass=*'];
    for (const name of names) {
      const r = await user.verify(name, alice().password);
      expect(r.ok, name).toBe(false);
    }
  });
});
