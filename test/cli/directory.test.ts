/** `countersign directory ...` against a throw-away slapd, through the real CLI. */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_DN, slapdAvailable, startSlapd, type Slapd } from '../support/slapd.ts';
import { installation, json, ok, removeDir, run, type RunOptions } from './run.ts';

const PEOPLE = `ou=people,${BASE_DN}`;
const haveSlapd = slapdAvailable();

interface ImportJson {
  dryRun: boolean;
  total: number;
  created: number;
  updated: number;
  unchanged: number;
  disabled: number;
  errors: { username: string; code: string }[];
}

describe.skipIf(!haveSlapd)('countersign directory', () => {
  let ldap: Slapd;
  let dir: string;
  let o: RunOptions;

  beforeAll(async () => {
    ldap = await startSlapd();
    const inst = await installation('directory');
    dir = inst.dir;
    o = { cwd: dir, env: inst.env };
    await writeFile(path.join(dir, 'ldap-ca.pem'), ldap.caPem);
    await writeFile(path.join(dir, 'bind-password'), ldap.bindPassword + '\n', { mode: 0o600 });
    const file = path.join(dir, 'countersign.yaml');
    const config = parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    config['directories'] = [
      // Relative paths resolve against the config file's folder.
      { name: 'ldap', preset: 'openldap', urls: [ldap.url], bindDn: ldap.bindDn, bindPasswordFile: 'bind-password', baseDn: ldap.baseDn, startTls: true, caFile: 'ldap-ca.pem' },
      { name: 'badpass', urls: [ldap.url], bindDn: ldap.bindDn, bindPassword: 'not-the-password', baseDn: ldap.baseDn, startTls: true, caFile: 'ldap-ca.pem' },
    ];
    await writeFile(file, stringify(config));
  }, 60_000);

  afterAll(async () => {
    await ldap?.stop();
    if (dir) await removeDir(dir);
  });

  it('lists the configured sources without their passwords', async () => {
    const out = await ok(['directory', 'list'], o);
    expect(out).toMatch(/^ldap\s+openldap\s+ldap:\/\/127\.0\.0\.1:\d+\s+dc=example,dc=test\s+starttls$/m);
    const list = await json<{ name: string; caFile: string }[]>(['directory', 'list'], o);
    expect(list.map((d) => d.name)).toEqual(['ldap', 'badpass']);
    expect(list[0]?.caFile).toBe(path.join(dir, 'ldap-ca.pem'));
    expect(JSON.stringify(list)).not.toContain('not-the-password');
  });

  it('test: ok with the right password, the failing stage with a wrong one', async () => {
    const good = await ok(['directory', 'test', 'ldap'], o);
    expect(good).toContain(`ok      ${ldap.url}`);
    expect(good).toContain('directory ldap: ok');

    const bad = await run(['directory', 'test', 'badpass'], o);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAILED {2}ldap:\/\/127\.0\.0\.1:\d+ {2}stage: bind {2}code: 49/);
    expect(bad.stdout).not.toContain('not-the-password');
    const badJson = await run(['directory', 'test', 'badpass', '--json'], o);
    expect(badJson.code).toBe(1);
    expect(JSON.parse(badJson.stdout)).toMatchObject({ ok: false, attempts: [{ ok: false, stage: 'bind', code: 49 }] });

    const unknown = await run(['directory', 'test', 'nope'], o);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no directory source named "nope" in the configuration (configured: ldap, badpass)');
  });

  it('search by OU returns the seeded users; exactly one scope is required', async () => {
    const found = await json<{ users: { username: string; email: string; dn: string }[] }>(['directory', 'search', 'ldap', '--ou', PEOPLE], o);
    expect(found.users.map((u) => u.username).sort()).toEqual(['alice', 'bob', 'carol', 'dave', 'dup']);
    expect(found.users.find((u) => u.username === 'alice')).toMatchObject({ email: 'alice@example.test', dn: `uid=alice,${PEOPLE}` });

    const table = await ok(['directory', 'search', 'ldap', '--name', 'ali'], o);
    expect(table.split('\n')[0]).toMatch(/^USERNAME\s+DISPLAY NAME\s+EMAIL/);
    expect(table).toMatch(/^alice\s+Alice Anders\s+alice@example\.test/m);
    expect(table).not.toContain('bob');

    const both = await run(['directory', 'search', 'ldap', '--ou', PEOPLE, '--name', 'x'], o);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('exactly one of --ou DN, --group DN or --name TEXT');
  });

  it('import: --dry-run writes nothing, the import creates users, a second import finds them unchanged', async () => {
    const dry = await json<ImportJson>(['directory', 'import', 'ldap', '--ou', PEOPLE, '--dry-run'], o);
    expect(dry).toMatchObject({ dryRun: true, total: 5, created: 5, updated: 0, unchanged: 0, errors: [] });
    const before = await json<{ items: { username: string }[] }>(['user', 'list'], o);
    expect(before.items.map((u) => u.username)).toEqual(['admin']); // the console administrator made by init

    const first = await json<ImportJson>(['directory', 'import', 'ldap', '--ou', PEOPLE, '--language', 'de', '--default-method', 'totp'], o);
    // dave is locked in the directory (pwdAccountLockedTime 000001010000Z): created disabled.
    expect(first).toMatchObject({ dryRun: false, total: 5, created: 5, updated: 0, unchanged: 0, disabled: 1, errors: [] });
    expect(await json(['user', 'show', 'dave'], o)).toMatchObject({ status: 'disabled' });

    const users = await json<{ items: { username: string; email: string; language: string; source: unknown }[] }>(['user', 'list'], o);
    expect(users.items.map((u) => u.username).sort()).toEqual(['admin', 'alice', 'bob', 'carol', 'dave', 'dup']);
    const alice = await json<{ email: string; language: string; source: { kind: string; directory: string } }>(['user', 'show', 'alice'], o);
    expect(alice).toMatchObject({ email: 'alice@example.test', language: 'de', source: { kind: 'directory', directory: 'ldap' } });

    const second = await ok(['directory', 'import', 'ldap', '--ou', PEOPLE], o);
    expect(second).toContain('5 found, 0 created, 0 updated, 5 unchanged, 0 disabled, 0 errors');
  });

  it('a local user with the name of a directory account is reported as source_conflict and left alone (exit 1)', async () => {
    await ok(['user', 'delete', 'carol', '--yes'], o);
    await ok(['user', 'add', 'carol', '--email', 'carol@local.test'], o);
    const r = await run(['directory', 'import', 'ldap', '--ou', PEOPLE], o);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('5 found, 0 created, 0 updated, 4 unchanged, 0 disabled, 1 errors');
    expect(r.stdout).toContain(`error: carol (uid=carol,${PEOPLE}): source_conflict`);
    const carol = await json<{ email: string; source: { kind: string } }>(['user', 'show', 'carol'], o);
    expect(carol).toMatchObject({ email: 'carol@local.test', source: { kind: 'local' } });
  });
});

describe('directory configuration errors name the key', () => {
  it('refuses a bad source before any connection', async () => {
    const inst = await installation('directory-config');
    const o = { cwd: inst.dir, env: inst.env };
    try {
      const file = path.join(inst.dir, 'countersign.yaml');
      const config = parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      const put = async (directories: unknown): Promise<string> => {
        await writeFile(file, stringify({ ...config, directories }));
        const r = await run(['directory', 'list'], o);
        expect(r.code).toBe(1);
        return r.stderr;
      };
      const base = { name: 'corp', urls: ['ldaps://dc1.example.com'], bindDn: 'cn=svc', bindPassword: 'secret-value', baseDn: 'dc=example,dc=com' };
      expect(await put([{ ...base, timeoutMs: 5 }])).toContain('directories[0].timeoutMs: 5 is not allowed: an integer 100..120000');
      expect(await put([{ ...base, urls: ['http://dc1'] }])).toContain('directories[0].urls[0]: "http://dc1" is not allowed');
      expect(await put([{ ...base, bindDN: 'x' }])).toContain('unknown key directories[0].bindDN; did you mean directories[0].bindDn?');
      expect(await put([{ ...base, preset: 'ad' }])).toContain('directories[0].preset: "ad" is not allowed: one of activeDirectory, openldap');
      const { baseDn: _omit, ...noBase } = base;
      expect(await put([noBase])).toContain('directories[0].baseDn is required');
      expect(await put([base, base])).toContain('directories[1].name: "corp" is not allowed: another directory source has that name');
      const both = await put([{ ...base, bindPasswordFile: 'pw' }]);
      expect(both).toContain('set exactly one of directories[0].bindPassword and directories[0].bindPasswordFile');
      expect(await put([{ ...base, bindPassword: 7 }])).not.toContain('7');
    } finally {
      await removeDir(inst.dir);
    }
  });
});
