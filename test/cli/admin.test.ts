import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN, cleanEnv, installation, json, oathtool, ok, removeDir, run } from './run.ts';

let dir: string;
let o: { cwd: string };

beforeAll(async () => {
  ({ dir } = await installation('admin'));
  o = { cwd: dir };
  await ok(['user', 'add', 'alice'], o);
});
afterAll(async () => {
  await removeDir(dir);
});

describe('apikey', () => {
  it('creates (printing the key once), lists without secrets, and revokes', async () => {
    const r = await run(['apikey', 'create', '--name', 'intranet', '--role', 'sdk'], o);
    expect(r.code, r.stderr).toBe(0);
    const token = /^API key: (cs_\S+)$/m.exec(r.stdout)?.[1] ?? '';
    expect(token).toMatch(/^cs_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{43}$/);
    expect(r.stderr).toContain('shown only once');
    const keys = await json<{ id: string; name: string; role: string; revokedAt: number | null }[]>(['apikey', 'list'], o);
    const key = keys.find((k) => k.name === 'intranet');
    expect(key).toMatchObject({ role: 'sdk', revokedAt: null });
    expect(JSON.stringify(keys)).not.toContain(token.slice(-43));
    expect(await ok(['apikey', 'revoke', key!.id], o)).toBe(`revoked API key ${key!.id}\n`);
    const after = await json<{ id: string; revokedAt: number | null }[]>(['apikey', 'list'], o);
    expect(after.find((k) => k.id === key!.id)?.revokedAt).toEqual(expect.any(Number));
  });

  it('requires a known role', async () => {
    const r = await run(['apikey', 'create', '--name', 'x', '--role', 'root'], o);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Allowed choices are admin, sdk, helpdesk');
    expect((await run(['apikey', 'create', '--name', 'x'], o)).code).toBe(2);
  });
});

describe('app', () => {
  it('adds, updates, lists and removes applications with their policy', async () => {
    const vpn = await json<{ name: string; requireUserMatch: boolean; trustedIps: string[]; cacheSeconds: number | null; allowedMethods: string[] | null }>(
      ['app', 'add', 'vpn', '--no-require-user-match', '--trusted-ip', '10.0.0.0/8', '--trusted-ip', '192.168.1.1,192.168.1.2', '--cache-seconds', '300', '--methods', 'totp'],
      o,
    );
    expect(vpn).toMatchObject({ name: 'vpn', requireUserMatch: false, cacheSeconds: 300, allowedMethods: ['totp'] });
    expect(vpn.trustedIps).toHaveLength(3);
    const updated = await json<{ requireUserMatch: boolean; trustedIps: string[]; cacheSeconds: number | null; allowedMethods: string[] | null }>(
      ['app', 'update', 'vpn', '--require-user-match', '--clear-trusted-ips', '--cache-seconds', 'default', '--methods', 'all'],
      o,
    );
    expect(updated).toMatchObject({ requireUserMatch: true, trustedIps: [], cacheSeconds: null, allowedMethods: null });
    const list = await ok(['app', 'list'], o);
    expect(list).toMatch(/^vpn +required/m);
    expect((await run(['app', 'add', 'vpn'], o)).stderr).toMatch(/^error: application_exists: /);
    expect((await run(['app', 'update', 'vpn', '--methods', 'carrier-pigeon'], o)).code).toBe(2);
    expect((await run(['app', 'remove', 'default'], o)).code).toBe(1);
    expect(await ok(['app', 'remove', 'vpn'], o)).toBe('removed application vpn\n');
    expect((await json<{ name: string }[]>(['app', 'list'], o)).map((a) => a.name)).toEqual(['default']);
  });

  it('a trusted network approves without a code through verify', async () => {
    await ok(['app', 'add', 'office', '--trusted-ip', '203.0.113.0/24'], o);
    const inside = await run(['verify', 'alice', '--application', 'office', '--client-ip', '203.0.113.9'], o);
    expect(inside.stdout).toBe('approved (trusted_ip)\n');
    expect(inside.code).toBe(0);
    const outside = await run(['verify', 'alice', '--application', 'office', '--client-ip', '198.51.100.9', '--code', '000000'], o);
    expect(outside.code).toBe(1);
    expect(outside.stdout).toMatch(/^denied \(/);
  });
});

describe('bypass', () => {
  it('issues a one-time bypass that approves once, shows and cancels it', async () => {
    await ok(['user', 'add', 'bea'], o);
    const issued = await json<{ username: string; reason: string; expiresAt: number; createdAt: number }>(['bypass', 'issue', 'bea', '--seconds', '600', '--reason', 'ticket 4711'], o);
    expect(issued).toMatchObject({ username: 'bea', reason: 'ticket 4711' });
    expect(issued.expiresAt - issued.createdAt).toBe(600_000);
    expect(await ok(['bypass', 'show', 'bea'], o)).toMatch(/^reason: +ticket 4711$/m);
    const first = await run(['verify', 'bea'], o);
    expect(first.stdout).toBe('approved (bypass)\n');
    const second = await run(['verify', 'bea', '--code', '123456'], o);
    expect(second.code).toBe(1);
    expect(await ok(['bypass', 'show', 'bea'], o)).toBe('bea has no active bypass\n');
    await ok(['bypass', 'issue', 'bea', '--reason', 'again'], o);
    expect(await ok(['bypass', 'cancel', 'bea'], o)).toBe('cancelled the bypass of bea\n');
    expect(await json<null>(['bypass', 'show', 'bea'], o)).toBeNull();
    expect((await run(['bypass', 'issue', 'bea'], o)).code).toBe(2);
  });
});

describe('settings', () => {
  it('shows every setting and sets dotted keys, parsing JSON values', async () => {
    const shown = await ok(['settings', 'show'], o);
    expect(shown).toMatch(/^lockout\.threshold +\d+$/m);
    expect(await ok(['settings', 'set', 'lockout.autoUnlockSeconds', '0'], o)).toBe('lockout.autoUnlockSeconds = 0\n');
    expect(await ok(['settings', 'set', 'trustedIps', '["10.9.0.0/16"]'], o)).toBe('trustedIps = ["10.9.0.0/16"]\n');
    expect(await ok(['settings', 'set', 'defaultLanguage', 'fr'], o)).toBe('defaultLanguage = "fr"\n');
    const s = await json<{ lockout: { autoUnlockSeconds: number }; trustedIps: string[]; defaultLanguage: string }>(['settings', 'show'], o);
    expect(s).toMatchObject({ lockout: { autoUnlockSeconds: 0 }, trustedIps: ['10.9.0.0/16'], defaultLanguage: 'fr' });
  });

  it('refuses unknown keys (usage) and bad values (validation, naming the field)', async () => {
    const unknown = await run(['settings', 'set', 'lockout.treshold', '3'], o);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown setting lockout.treshold; did you mean lockout.threshold');
    const bad = await run(['settings', 'set', 'lockout.threshold', '-1'], o);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: validation_failed: .*lockout\.threshold/);
  });
});

describe('audit', () => {
  it('tail prints recent events oldest first; --follow prints new ones as they happen and stops on SIGINT', async () => {
    const tail = (await ok(['audit', 'tail', '--limit', '3'], o)).trim().split('\n');
    expect(tail).toHaveLength(3);
    const times = tail.map((l) => l.split(' ')[0]!);
    expect([...times].sort()).toEqual(times);

    const child = spawn(process.execPath, [MAIN, 'audit', 'tail', '--follow', '--limit', '0', '--interval', '200', '--json'], { cwd: dir, env: cleanEnv() });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise((r) => setTimeout(r, 2500));
    await ok(['user', 'add', 'tailed'], o);
    await run(['verify', 'tailed', '--code', '000000'], o);
    for (let i = 0; i < 100 && !out.includes('"authenticate"'); i++) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const events = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; username: string; result: string });
    expect(events.map((e) => `${e.action}:${e.username}`)).toEqual(['user.create:tailed', 'authenticate:tailed']);
    expect(events[1]!.result).toBe('denied');
  });

  it('list filters by time and rejects malformed times as usage errors', async () => {
    const future = await json<unknown[]>(['audit', 'list', '--from', '2999-01-01'], o);
    expect(future).toEqual([]);
    const bad = await run(['audit', 'list', '--from', 'yesterday-ish'], o);
    expect(bad.code).toBe(2);
    expect((await run(['audit', 'list', '--csv', '--json'], o)).code).toBe(2);
  });
});

describe('keys rotate', () => {
  it('adds a new active key, re-seals every secret under it, and tokens keep working', async () => {
    await ok(['user', 'add', 'rot'], o);
    const { secret } = await json<{ secret: string }>(['token', 'add', 'rot'], o);
    const keyFile = path.join(dir, 'countersign.key');
    const before = JSON.parse(await readFile(keyFile, 'utf8')) as { active: string; keys: Record<string, string> };
    const r = await json<{ activeKey: string; resealed: number }>(['keys', 'rotate'], o);
    const after = JSON.parse(await readFile(keyFile, 'utf8')) as { active: string; keys: Record<string, string> };
    expect(r.activeKey).toBe(after.active);
    expect(after.active).not.toBe(before.active);
    expect(Object.keys(after.keys)).toEqual([...Object.keys(before.keys), after.active]);
    expect(r.resealed).toBeGreaterThanOrEqual(1);
    expect((await readFile(keyFile)).length).toBeGreaterThan(0);
    expect((await run(['verify', 'rot', '--code', oathtool(secret)], o)).stdout).toBe('approved (passcode_ok)\n');
  });
});

// Last: it deletes the installation's older audit events.
describe('prune', () => {
  it('deletes audit events older than retention.auditDays, says what it deleted, and keeps them all with 0', async () => {
    // Back-date everything so far by 400 days, in the installation's own database.
    const db = new Database(path.join(dir, 'countersign.db'));
    db.prepare('update audit_events set at = at - ?').run(400 * 86_400_000);
    db.close();
    const old = (await json<unknown[]>(['audit', 'list', '--limit', '10000'], o)).length;
    expect(old).toBeGreaterThan(5);

    await ok(['settings', 'set', 'retention.auditDays', '0'], o);
    expect(await json(['prune'], o)).toMatchObject({ auditEvents: 0, auditBefore: null, authentications: 0 });
    expect(await ok(['prune'], o)).toContain('(audit events are kept forever: retention.auditDays is 0)');

    await ok(['settings', 'set', 'retention.auditDays', '365'], o);
    const said = await ok(['prune'], o);
    expect(said).toMatch(new RegExp(`^Deleted ${old} audit events from before \\d{4}-\\d\\d-\\d\\dT`));
    const left = await json<{ action: string; actor: string }[]>(['audit', 'list', '--limit', '10000'], o);
    expect(left.map((e) => e.action)).toEqual(['retention.prune', 'settings.update', 'settings.update']);
    expect(left[0]?.actor).toMatch(/^cli:/);
  });

  it('has help that names the settings', async () => {
    const help = await ok(['prune', '--help'], o);
    expect(help).toContain('retention.auditDays');
    expect(help).toContain('retention.authenticationDays');
  });
});
