import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN, cleanEnv, installation, json, ok, removeDir, run } from './run.ts';

interface UserJson {
  username: string;
  displayName: string | null;
  email: string | null;
  phone: { number: string; extension: string | null; country: string | null } | null;
  state: string;
  status: string;
  hasPin: boolean;
  language: string;
  defaultMethod: string | null;
  blockedReason: string | null;
}

let dir: string;
let o: { cwd: string };

beforeAll(async () => {
  ({ dir } = await installation('user'));
  o = { cwd: dir };
});
afterAll(async () => {
  await removeDir(dir);
});

describe('user add / show / list', () => {
  it('adds a user with every field and shows it back', async () => {
    const created = await json<UserJson>(
      ['user', 'add', 'bob', '--display-name', 'Bob Stone', '--email', 'bob@example.com', '--phone', '4155552671', '--phone-country', 'US', '--phone-extension', '12', '--language', 'fr-CA', '--default-method', 'totp'],
      o,
    );
    expect(created).toMatchObject({
      username: 'bob',
      displayName: 'Bob Stone',
      email: 'bob@example.com',
      phone: { number: '+14155552671', extension: '12', country: 'US' },
      language: 'fr-CA',
      defaultMethod: 'totp',
      state: 'enabled',
      hasPin: false,
    });
    const shown = await json<UserJson & { methods: unknown[] }>(['user', 'show', 'BOB'], o);
    expect(shown.username).toBe('bob');
    expect(shown.methods).toEqual([]);
    const human = await ok(['user', 'show', 'bob'], o);
    expect(human).toMatch(/^username: +bob$/m);
    expect(human).toMatch(/^phone: +\+14155552671 ext\. 12 \(US\)$/m);
    expect(human).toMatch(/^tokens: +none$/m);
  });

  it('reads a PIN from standard input and never prints it', async () => {
    const r = await run(['user', 'add', 'pinned', '--pin-stdin', '--json'], { ...o, input: '482913\n' });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as UserJson).hasPin).toBe(true);
    expect(r.stdout + r.stderr).not.toContain('482913');
    const bad = await run(['user', 'add', 'badpin', '--pin-stdin'], { ...o, input: '12\n' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: validation_failed: pin: /);
  });

  it('creates disabled users', async () => {
    expect((await json<UserJson>(['user', 'add', 'dora', '--disabled'], o)).state).toBe('disabled');
  });

  it('refuses a duplicate (case-insensitive) and invalid fields, naming the field', async () => {
    const dup = await run(['user', 'add', 'Bob'], o);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/^error: user_exists: /);
    const email = await run(['user', 'add', 'eve', '--email', 'not-an-email'], o);
    expect(email.code).toBe(1);
    expect(email.stderr).toMatch(/^error: validation_failed: email: /);
    expect(email.stderr).not.toMatch(/\n\s+at /);
    const phone = await run(['user', 'add', 'eve', '--phone', '12'], o);
    expect(phone.stderr).toMatch(/^error: validation_failed: phone\.number: /);
    expect((await run(['user', 'show', 'eve'], o)).stderr).toMatch(/^error: user_not_found: /);
  });

  it('usage errors exit with status 2', async () => {
    const noArg = await run(['user', 'add'], o);
    expect(noArg.code).toBe(2);
    expect(noArg.stderr).toContain("missing required argument 'username'");
    const badOpt = await run(['user', 'add', 'zed', '--colour', 'red'], o);
    expect(badOpt.code).toBe(2);
    expect(badOpt.stderr).toContain("unknown option '--colour'");
    const badChoice = await run(['user', 'list', '--state', 'sleeping'], o);
    expect(badChoice.code).toBe(2);
    const badLimit = await run(['user', 'list', '--limit', 'lots'], o);
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toContain('expected an integer 1..1000');
  });

  it('lists with search, state, limit and paging', async () => {
    await ok(['user', 'add', 'carol', '--email', 'carol@corp.example'], o);
    const all = await json<{ items: UserJson[]; next: string | null }>(['user', 'list'], o);
    // "admin" is the console administrator made by init.
    expect(all.items.map((u) => u.username)).toEqual(['admin', 'bob', 'carol', 'dora', 'pinned']);
    expect(all.next).toBeNull();
    const search = await json<{ items: UserJson[] }>(['user', 'list', '--search', 'CORP'], o);
    expect(search.items.map((u) => u.username)).toEqual(['carol']);
    const disabled = await json<{ items: UserJson[] }>(['user', 'list', '--state', 'disabled'], o);
    expect(disabled.items.map((u) => u.username)).toEqual(['dora']);
    const page1 = await json<{ items: UserJson[]; next: string | null }>(['user', 'list', '--limit', '2'], o);
    expect(page1.items.map((u) => u.username)).toEqual(['admin', 'bob']);
    expect(page1.next).not.toBeNull();
    const page2 = await json<{ items: UserJson[] }>(['user', 'list', '--limit', '2', '--after', String(page1.next)], o);
    expect(page2.items.map((u) => u.username)).toEqual(['carol', 'dora']);
    const human = await ok(['user', 'list', '--limit', '2'], o);
    expect(human.split('\n')[0]).toMatch(/^USERNAME +STATE +DISPLAY NAME +EMAIL/);
    expect(human).toContain('(more: --after');
  });
});

describe('user role', () => {
  it('gives, changes and takes away a console role, shown by user show', async () => {
    await ok(['user', 'add', 'hana'], o);
    expect(await json<{ consoleRole: string | null }>(['user', 'role', 'hana', 'helpdesk'], o)).toMatchObject({ username: 'hana', consoleRole: 'helpdesk' });
    expect(await ok(['user', 'role', 'hana', 'auditor'], o)).toBe('hana: console role auditor\n');
    expect(await ok(['user', 'show', 'hana'], o)).toMatch(/^console role: +auditor$/m);
    expect(await json<{ consoleRole: string | null }>(['user', 'role', 'HANA', 'none'], o)).toMatchObject({ consoleRole: null });
    expect(await ok(['user', 'show', 'hana'], o)).toMatch(/^console role: +none$/m);
    const changes = await json<{ actor: string; details: { from: string | null; to: string | null } }[]>(['audit', 'list', '--user', 'hana', '--action', 'user.console_role'], o);
    expect(changes.map((e) => [e.details.from, e.details.to])).toEqual([
      ['auditor', null],
      ['helpdesk', 'auditor'],
      [null, 'helpdesk'],
    ]);
    expect(changes[0]?.actor).toMatch(/^cli:/);
  });

  it('refuses an unknown role (usage, status 2) and an unknown user', async () => {
    const bad = await run(['user', 'role', 'bob', 'root'], o);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('role must be one of admin, helpdesk, auditor or none, not "root"');
    const missing = await run(['user', 'role', 'bob'], o);
    expect(missing.code).toBe(2);
    const nobody = await run(['user', 'role', 'nobody', 'admin'], o);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toMatch(/^error: user_not_found: /);
    expect(await ok(['user', 'role', '--help'], o)).toContain('$ countersign user role alice admin');
  });
});

describe('user reply-attributes', () => {
  it('sets, shows and clears the RADIUS reply attributes of a user, audited', async () => {
    await ok(['user', 'add', 'vera'], o);
    expect(await ok(['user', 'reply-attributes', 'vera'], o)).toBe('vera: no RADIUS reply attributes\n');
    const set = await json<{ replyAttributes: { name: string; value: string }[] }>(
      ['user', 'reply-attributes', 'vera', 'Class=vpn-admins', 'Filter-Id=acl=admins', 'Framed-IP-Address=10.8.0.12', 'Class=audit'],
      o,
    );
    expect(set.replyAttributes).toEqual([
      { name: 'Class', value: 'vpn-admins' },
      { name: 'Filter-Id', value: 'acl=admins' },
      { name: 'Framed-IP-Address', value: '10.8.0.12' },
      { name: 'Class', value: 'audit' },
    ]);
    const shown = await ok(['user', 'reply-attributes', 'VERA'], o);
    expect(shown.split('\n')[0]).toMatch(/^NAME +VALUE$/);
    expect(shown).toMatch(/^Framed-IP-Address +10\.8\.0\.12$/m);
    expect(await ok(['user', 'show', 'vera'], o)).toMatch(/^RADIUS reply: +Class=vpn-admins, Filter-Id=acl=admins, Framed-IP-Address=10\.8\.0\.12, Class=audit$/m);
    expect((await json<{ replyAttributes: unknown[] }>(['user', 'show', 'vera'], o)).replyAttributes).toHaveLength(4);
    expect(await ok(['user', 'reply-attributes', 'vera', '--clear'], o)).toBe('vera: no RADIUS reply attributes (cleared)\n');
    expect(await ok(['user', 'show', 'vera'], o)).toMatch(/^RADIUS reply: +none$/m);
    const changes = await json<{ action: string; details: { to: unknown[] } }[]>(['audit', 'list', '--user', 'vera', '--action', 'user.reply_attributes'], o);
    expect(changes.map((e) => e.details.to.length)).toEqual([0, 4]);
  });

  it('refuses unknown attributes and bad values naming the field (status 1), and bad arguments (status 2)', async () => {
    await ok(['user', 'add', 'walt'], o);
    const unknown = await run(['user', 'reply-attributes', 'walt', 'Class=x', 'Vlan=12'], o);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: validation_failed: attributes\[1\]\.name: unknown attribute "Vlan"/);
    const value = await run(['user', 'reply-attributes', 'walt', 'Session-Timeout=forever'], o);
    expect(value.code).toBe(1);
    expect(value.stderr).toMatch(/^error: validation_failed: attributes\[0\]\.value: /);
    const pair = await run(['user', 'reply-attributes', 'walt', 'Class'], o);
    expect(pair.code).toBe(2);
    expect(pair.stderr).toContain('"Class" is not Name=Value');
    const both = await run(['user', 'reply-attributes', 'walt', 'Class=x', '--clear'], o);
    expect(both.code).toBe(2);
    const nobody = await run(['user', 'reply-attributes', 'nobody', 'Class=x'], o);
    expect(nobody.stderr).toMatch(/^error: user_not_found: /);
    expect((await json<{ replyAttributes: unknown[] }>(['user', 'show', 'walt'], o)).replyAttributes).toEqual([]);
    expect(await ok(['user', 'reply-attributes', '--help'], o)).toContain('$ countersign user reply-attributes alice Class=vpn-admins Filter-Id=admin-acl Framed-IP-Address=10.8.0.12');
  });
});

describe('user update / states / delete', () => {
  it('updates, renames and clears fields', async () => {
    await ok(['user', 'add', 'frank', '--email', 'frank@example.com', '--phone', '+14155552671'], o);
    const u = await json<UserJson>(['user', 'update', 'frank', '--display-name', 'Frank', '--email', '', '--phone', ''], o);
    expect(u).toMatchObject({ displayName: 'Frank', email: null, phone: null });
    const renamed = await json<UserJson>(['user', 'update', 'frank', '--rename', 'franklin'], o);
    expect(renamed.username).toBe('franklin');
    expect((await run(['user', 'show', 'frank'], o)).code).toBe(1);
    const nothing = await run(['user', 'update', 'franklin'], o);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('nothing to change');
  });

  it('disables, enables, blocks and unblocks, with history', async () => {
    await ok(['user', 'add', 'gina'], o);
    expect(await ok(['user', 'disable', 'gina'], o)).toBe('gina: disabled\n');
    expect(await ok(['user', 'enable', 'gina'], o)).toBe('gina: enabled\n');
    const noReason = await run(['user', 'block', 'gina'], o);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain("required option '--reason <text>' not specified");
    const blocked = await json<UserJson>(['user', 'block', 'gina', '--reason', 'lost phone'], o);
    expect(blocked).toMatchObject({ state: 'blocked', blockedReason: 'lost phone' });
    expect(await ok(['user', 'unblock', 'gina', '--reason', 'found it'], o)).toBe('gina: enabled\n');
    const history = await json<{ action: string; reason: string | null }[]>(['user', 'history', 'gina'], o);
    expect(history.map((e) => e.action)).toEqual(['user.unblock', 'user.block', 'user.enable', 'user.disable']);
    expect(history[1]!.reason).toBe('lost phone');
  });

  it('deletes only with --yes when not on a terminal', async () => {
    await ok(['user', 'add', 'hank'], o);
    const refused = await run(['user', 'delete', 'hank'], o);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    expect((await json<UserJson>(['user', 'show', 'hank'], o)).username).toBe('hank');
    expect(await ok(['user', 'delete', 'hank', '--yes'], o)).toBe('deleted user hank\n');
    expect((await run(['user', 'show', 'hank'], o)).stderr).toMatch(/^error: user_not_found/);
  });
});

describe('user import', () => {
  it('imports good rows, reports bad rows by line, updates existing users, exits 1', async () => {
    const csv = [
      'username,display_name,email,phone,phone_country,status',
      'imp1,Import One,imp1@example.com,+14155552671,,enabled',
      'imp2,Import Two,not-an-email,,,enabled',
      'imp3,Import Three,,4155552672,US,disabled',
      ',No Name,,,,',
      'bob,Bob Updated,,,,',
      'imp4,Bad Status,,,,sleeping',
    ].join('\n');
    const file = path.join(dir, 'users.csv');
    await writeFile(file, csv);
    const r = await run(['user', 'import', file], o);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('total 6, created 2, updated 1, skipped 3, errors 3');
    expect(lines[1]).toMatch(/^ {2}row 3: email: "not-an-email" is not an email address$/);
    expect(lines[2]).toMatch(/^ {2}row 5: username: /);
    expect(lines[3]).toMatch(/^ {2}row 7: status: /);
    expect(r.stderr).toBe('');
    expect(await json<UserJson>(['user', 'show', 'imp1'], o)).toMatchObject({ displayName: 'Import One', phone: { number: '+14155552671' } });
    expect(await json<UserJson>(['user', 'show', 'imp3'], o)).toMatchObject({ state: 'disabled', phone: { number: '+14155552672', country: 'US' } });
    expect((await json<UserJson>(['user', 'show', 'bob'], o)).displayName).toBe('Bob Updated');
    expect((await run(['user', 'show', 'imp2'], o)).code).toBe(1);
    expect((await run(['user', 'show', 'imp4'], o)).code).toBe(1);
  });

  it('shows a progress bar when run on a terminal', async () => {
    const rows = Array.from({ length: 50 }, (_, i) => `tty${i},tty${i}@example.com`);
    const file = path.join(dir, 'tty.csv');
    await writeFile(file, ['username,email', ...rows].join('\n'));
    // `script` runs the command on a pseudo-terminal.
    const cmd = [process.execPath, MAIN, 'user', 'import', file].map((a) => `'${a}'`).join(' ');
    const tty = execFileSync('script', ['-qec', cmd, '/dev/null'], { cwd: dir, env: cleanEnv(), encoding: 'utf8' });
    expect(tty).toMatch(/users \[[█░]+\] 100% \| 50\/50/);
    expect(tty).toContain('total 50, created 50');
  });

  it('--json gives the report; a clean file exits 0; a bad header fails the whole file', async () => {
    const good = path.join(dir, 'good.csv');
    await writeFile(good, 'username,email\nj1,j1@example.com\nj2,j2@example.com\n');
    const report = await json<{ total: number; created: number; errors: unknown[] }>(['user', 'import', good], o);
    expect(report).toMatchObject({ total: 2, created: 2, errors: [] });
    const badHeader = path.join(dir, 'bad.csv');
    await writeFile(badHeader, 'login,email\nx,x@example.com\n');
    const r = await run(['user', 'import', badHeader], o);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: import_failed: /);
    const missing = await run(['user', 'import', path.join(dir, 'nope.csv')], o);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: cannot read .*nope\.csv: ENOENT/);
  });
});

describe('user password', () => {
  const PASSWORD = ' correct horse battery staple ';

  async function storedHash(username: string): Promise<string | null> {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(path.join(dir, 'countersign.db'), { readonly: true });
    try {
      const row = db.prepare('SELECT password_hash FROM users WHERE username_lc = ?').get(username.toLowerCase()) as { password_hash: string | null } | undefined;
      return row?.password_hash ?? null;
    } finally {
      db.close();
    }
  }

  it('sets a password from standard input, exactly as given, and never prints it', async () => {
    await ok(['user', 'add', 'paula'], o);
    const r = await run(['user', 'password', 'paula', '--stdin', '--json'], { ...o, input: `${PASSWORD}\nignored second line\n` });
    expect(r.code, r.stderr).toBe(0);
    const view = JSON.parse(r.stdout) as UserJson & { hasPassword: boolean };
    expect(view.hasPassword).toBe(true);
    expect(view).not.toHaveProperty('passwordHash');
    expect(r.stdout + r.stderr).not.toContain('horse');
    const hash = await storedHash('paula');
    expect(hash).toMatch(/^\$argon2id\$/);
    const { argon2Hasher } = await import('../../src/platform/hashing.ts');
    expect(await argon2Hasher().verify(hash as string, PASSWORD)).toBe(true);
    expect(await argon2Hasher().verify(hash as string, PASSWORD.trim())).toBe(false);
    expect(await ok(['user', 'show', 'paula'], o)).toMatch(/^password: +set$/m);
    expect(await ok(['user', 'password', 'paula', '--stdin'], { ...o, input: 'another long passphrase\n' })).toBe('paula: password set\n');
    expect(await storedHash('paula')).not.toBe(hash);
  });

  it('clears a password', async () => {
    await ok(['user', 'add', 'quinn'], o);
    await ok(['user', 'password', 'quinn', '--stdin'], { ...o, input: 'a long enough password\n' });
    expect(await ok(['user', 'password', 'quinn', '--clear'], o)).toBe('quinn: password cleared\n');
    expect(await storedHash('quinn')).toBeNull();
    expect((await json<{ hasPassword: boolean }>(['user', 'show', 'quinn'], o)).hasPassword).toBe(false);
  });

  it('refuses a password outside the policy, naming the field, and bad option combinations', async () => {
    await ok(['user', 'add', 'rita'], o);
    const short = await run(['user', 'password', 'rita', '--stdin'], { ...o, input: 'short\n' });
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/^error: validation_failed: password: /);
    const empty = await run(['user', 'password', 'rita', '--stdin'], { ...o, input: '' });
    expect(empty.code).toBe(2);
    const both = await run(['user', 'password', 'rita', '--stdin', '--clear'], o);
    expect(both.code).toBe(2);
    const neither = await run(['user', 'password', 'rita'], o);
    expect(neither.code).toBe(2);
    // No way to pass the password on the command line.
    const argv = await run(['user', 'password', 'rita', 'a long enough password'], o);
    expect(argv.code).toBe(2);
    expect(await storedHash('rita')).toBeNull();
    const unknown = await run(['user', 'password', 'nobody', '--stdin'], { ...o, input: 'a long enough password\n' });
    expect(unknown.stderr).toMatch(/^error: user_not_found: /);
  });
});
