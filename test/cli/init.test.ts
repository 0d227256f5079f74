import { X509Certificate } from 'node:crypto';
import { readFile, readdir, stat, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { openContext } from '../../src/server.ts';
import { json, ok, removeDir, run, tempDir, type RunResult } from './run.ts';

const TOKEN = /cs_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{43}/g;
const PASSWORD_LINE = /^ {2}password: ([A-Za-z0-9]{20})$/m;
const dirs: string[] = [];

afterAll(async () => {
  for (const d of dirs) await removeDir(d);
});

async function newDir(): Promise<string> {
  const d = await tempDir('init');
  dirs.push(d);
  return d;
}

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await allFiles(p)));
    else out.push(p);
  }
  return out;
}

describe('countersign init', () => {
  let dir: string;
  let result: RunResult;
  let token: string;
  let password: string;

  beforeAll(async () => {
    dir = await newDir();
    result = await run(['init'], { cwd: dir });
    token = (result.stdout.match(TOKEN) ?? [])[0] ?? '';
    password = PASSWORD_LINE.exec(result.stdout)?.[1] ?? '';
  });

  it('succeeds and writes the config, key file, certificate and database', async () => {
    expect(result.code, result.stderr).toBe(0);
    for (const f of ['countersign.yaml', 'countersign.key', 'tls/cert.pem', 'tls/key.pem', 'countersign.db']) {
      expect((await stat(path.join(dir, f))).isFile(), f).toBe(true);
    }
  });

  it('makes the key file, the TLS key and the database readable by the owner only', async () => {
    expect((await stat(path.join(dir, 'countersign.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, 'tls/key.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, 'countersign.db'))).mode & 0o077).toBe(0);
  });

  it('prints the admin API key exactly once, with a note to store it, and stores no copy of it', async () => {
    expect(result.stdout.match(TOKEN)).toHaveLength(1);
    expect(result.stderr).not.toMatch(TOKEN);
    expect(result.stderr).toContain('shown only once');
    for (const file of await allFiles(dir)) {
      const bytes = await readFile(file);
      expect(bytes.includes(Buffer.from(token)), file).toBe(false);
      expect(bytes.includes(Buffer.from(token.slice(-43))), file).toBe(false);
    }
  });

  it('prints the console administrator\'s random password exactly once and stores no copy of it', async () => {
    expect(password).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(result.stdout).toContain(`Console administrator "admin" (sign in at https://localhost:8443/admin;`);
    expect(result.stdout.split(password)).toHaveLength(2);
    expect(result.stderr).not.toContain(password);
    expect(result.stderr).toContain('Store the console password now');
    for (const file of await allFiles(dir)) {
      expect((await readFile(file)).includes(Buffer.from(password)), file).toBe(false);
    }
  });

  it('creates the console administrator: a local user with that password and the console role admin', async () => {
    const user = await json<{ username: string; consoleRole: string | null; hasPassword: boolean; source: { kind: string } }>(['user', 'show', 'admin'], { cwd: dir });
    expect(user).toMatchObject({ username: 'admin', consoleRole: 'admin', hasPassword: true, source: { kind: 'local' }, methods: [] });
    const ctx = await openContext(await loadConfig({ file: path.join(dir, 'countersign.yaml'), env: {} }));
    try {
      const local = (await ctx.firstFactors()).resolve('local');
      expect(await local.verify('admin', password)).toMatchObject({ ok: true });
      expect(await local.verify('admin', `${password}x`)).toMatchObject({ ok: false });
    } finally {
      await ctx.close();
    }
  });

  it('writes a commented config that loads, with paths inside the folder', async () => {
    const text = await readFile(path.join(dir, 'countersign.yaml'), 'utf8');
    expect(text).toContain('# TCP port of the HTTPS listener.');
    expect(text).toContain('COUNTERSIGN_DATABASE_URL');
    const config = await loadConfig({ file: path.join(dir, 'countersign.yaml'), env: {} });
    expect(config.keys.file).toBe(path.join(dir, 'countersign.key'));
    expect(config.database.url).toBe(`sqlite:${path.join(dir, 'countersign.db')}`);
    expect(config.server.tls.cert).toBe(path.join(dir, 'tls/cert.pem'));
  });

  it('writes a self-signed certificate for localhost, 127.0.0.1 and ::1 valid 825 days, matching its key', async () => {
    const cert = new X509Certificate(await readFile(path.join(dir, 'tls/cert.pem')));
    expect(cert.subject).toBe('CN=localhost');
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.subjectAltName).toMatch(/IP Address:(::1|0:0:0:0:0:0:0:1)/);
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
    expect(Math.round(days)).toBe(825);
    const { createPrivateKey } = await import('node:crypto');
    expect(cert.checkPrivateKey(createPrivateKey(await readFile(path.join(dir, 'tls/key.pem'))))).toBe(true);
  });

  it('creates the default application and the admin key in the database', async () => {
    const apps = await json<{ name: string }[]>(['app', 'list'], { cwd: dir });
    expect(apps.map((a) => a.name)).toEqual(['default']);
    const keys = await json<{ name: string; role: string; prefix: string; revokedAt: number | null }[]>(['apikey', 'list'], { cwd: dir });
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ name: 'admin', role: 'admin', revokedAt: null });
    expect(token.startsWith(keys[0]!.prefix)).toBe(true);
  });

  it('refuses to overwrite an existing installation and changes nothing', async () => {
    const before = await readFile(path.join(dir, 'countersign.key'));
    const again = await run(['init'], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: refusing to overwrite existing files: .*countersign\.yaml/);
    expect(again.stdout).toBe('');
    expect(await readFile(path.join(dir, 'countersign.key'))).toEqual(before);
    expect(await json<unknown[]>(['apikey', 'list'], { cwd: dir })).toHaveLength(1);
  });
});

describe('countersign init, other cases', () => {
  it('refuses when any one of its files exists, and writes nothing', async () => {
    const dir = await newDir();
    await mkdir(path.join(dir, 'tls'));
    await writeFile(path.join(dir, 'tls/cert.pem'), 'mine');
    const r = await run(['init'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(path.join(dir, 'tls/cert.pem'));
    expect((await allFiles(dir)).sort()).toEqual([path.join(dir, 'tls/cert.pem')]);
    expect(await readFile(path.join(dir, 'tls/cert.pem'), 'utf8')).toBe('mine');
  });

  it('--dir creates the folder, --admin-name names the key, --console-admin the console user, --json prints {config, keyFile, cert, apiKey, console}', async () => {
    const parent = await newDir();
    const dir = path.join(parent, 'etc', 'countersign');
    const out = await json<Record<string, string> & { console: { username: string; password: string; url: string } }>(
      ['init', '--dir', dir, '--admin-name', 'ops', '--console-admin', 'alice'],
      { cwd: parent },
    );
    expect(Object.keys(out).sort()).toEqual(['apiKey', 'cert', 'config', 'console', 'keyFile']);
    expect(out.console).toEqual({ username: 'alice', password: expect.stringMatching(/^[A-Za-z0-9]{20}$/), url: 'https://localhost:8443/admin' });
    const users = await json<{ items: { username: string; consoleRole: string | null }[] }>(['--config', out['config']!, 'user', 'list'], { cwd: parent });
    expect(users.items.map((u) => [u.username, u.consoleRole])).toEqual([['alice', 'admin']]);
    expect(out['config']).toBe(path.join(dir, 'countersign.yaml'));
    expect(out['keyFile']).toBe(path.join(dir, 'countersign.key'));
    expect(out['cert']).toBe(path.join(dir, 'tls/cert.pem'));
    expect(out['apiKey']).toMatch(/^cs_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{43}$/);
    const keys = await json<{ name: string }[]>(['--config', out['config']!, 'apikey', 'list'], { cwd: parent });
    expect(keys.map((k) => k.name)).toEqual(['ops']);
  });

  it('commands outside an installation explain what to do', async () => {
    const dir = await newDir();
    const r = await run(['user', 'list'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: config: no configuration: ${path.join(dir, 'countersign.yaml')} not found; run "countersign init" here, or pass --config FILE\n`);
    await ok(['init', '--dir', 'x'], { cwd: dir });
    expect(await ok(['user', 'list'], { cwd: path.join(dir, 'x') })).toMatch(/^admin +enabled +Console administrator/m);
    expect(await ok(['user', 'list'], { cwd: dir, env: { COUNTERSIGN_CONFIG: path.join(dir, 'x', 'countersign.yaml') } })).toMatch(/^admin +enabled/m);
  });
});
