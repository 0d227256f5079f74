/**
 * `countersign directory sync|status|runs|run|approve|reject` and the server's scheduler, against a
 * throw-away slapd, through the real CLI and `countersign serve`; a sync killed half-way (SIGKILL)
 * and run again.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SyncRun } from '../../src/core/ports.ts';
import { openStore } from '../../src/store/index.ts';
import { loadKeyring } from '../../src/store/keyring.ts';
import { BASE_DN, slapdAvailable, startSlapd, type Slapd } from '../support/slapd.ts';
import { MAIN, cleanEnv, installation, json, ok, removeDir, run, type RunOptions } from './run.ts';
import { freeTcpPort as freePort } from '../support/ports.ts';

const PEOPLE = `ou=people,${BASE_DN}`;
const BULK_OU = `ou=bulk,${BASE_DN}`;
const BULK = 3000;
const haveSlapd = slapdAvailable();

function bulkLdif(): string {
  const lines = [`dn: ${BULK_OU}`, 'objectClass: organizationalUnit', 'ou: bulk', ''];
  for (let i = 0; i < BULK; i++) lines.push(`dn: uid=bulk${i},${BULK_OU}`, 'objectClass: inetOrgPerson', `uid: bulk${i}`, `cn: Bulk ${i}`, `sn: ${i}`, `mail: bulk${i}@example.test`, '');
  return lines.join('\n');
}


describe.skipIf(!haveSlapd)('countersign directory sync', () => {
  let ldap: Slapd;
  let dir: string;
  let ldifDir: string;
  let o: RunOptions;
  let file: string;

  const configure = async (sync: Record<string, unknown>, name = 'ldap'): Promise<void> => {
    const config = parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    config['directories'] = [
      { name, preset: 'openldap', urls: [ldap.url], bindDn: ldap.bindDn, bindPasswordFile: 'bind-password', baseDn: ldap.baseDn, startTls: true, caFile: 'ldap-ca.pem', pageSize: 100, sync },
    ];
    await writeFile(file, stringify(config));
  };

  beforeAll(async () => {
    ldifDir = mkdtempSync(path.join(tmpdir(), 'countersign-bulk-'));
    writeFileSync(path.join(ldifDir, 'bulk.ldif'), bulkLdif());
    ldap = await startSlapd({ extraLdif: path.join(ldifDir, 'bulk.ldif') });
    const inst = await installation('directory-sync');
    dir = inst.dir;
    o = { cwd: dir, env: inst.env };
    file = path.join(dir, 'countersign.yaml');
    await writeFile(path.join(dir, 'ldap-ca.pem'), ldap.caPem);
    await writeFile(path.join(dir, 'bind-password'), ldap.bindPassword + '\n', { mode: 0o600 });
  }, 60_000);

  afterAll(async () => {
    await ldap?.stop();
    if (dir) await removeDir(dir);
    if (ldifDir) rmSync(ldifDir, { recursive: true, force: true });
  });

  it('synchronizes now, reports the run, holds a mass removal for approval, and applies it when approved', async () => {
    await configure({ intervalMinutes: 15, items: [{ name: 'people', ou: PEOPLE, language: 'fr' }] });
    const first = await json<SyncRun>(['directory', 'sync', 'ldap'], o);
    expect(first).toMatchObject({ status: 'completed', mode: 'full', counts: { seen: 5, added: 5, errors: 0 } });
    expect(await json(['user', 'show', 'dave'], o)).toMatchObject({ status: 'disabled', language: 'fr' });

    const human = await ok(['directory', 'sync', 'ldap'], o);
    expect(human).toMatch(/^status: +completed$/m);
    expect(human).toMatch(/^unchanged: +5$/m);

    const status = await json<{ directory: string; scheduled: boolean; lastRun: SyncRun; runningOn: string | null }>(['directory', 'status', 'ldap'], o);
    expect(status).toMatchObject({ directory: 'ldap', scheduled: true, runningOn: null, lastRun: { status: 'completed', counts: { unchanged: 5 } } });
    expect(await ok(['directory', 'status'], o)).toMatch(/^ldap +every 15 min/m);
    expect((await json<SyncRun[]>(['directory', 'runs', 'ldap'], o)).length).toBe(2);

    // Only alice stays in scope: bob, carol and dup would be disabled (dave already is), more than 1.
    await configure({ removalThreshold: 1, items: [{ name: 'alice-only', filter: '(uid=alice)' }] });
    const held = await run(['directory', 'sync', 'ldap'], o);
    expect(held.code).toBe(3);
    expect(held.stdout).toMatch(/^status: +awaiting_approval$/m);
    const id = /approve: countersign directory approve ldap (\S+)/.exec(held.stdout)?.[1] as string;
    expect(id).toBeTruthy();
    for (const u of ['bob', 'carol', 'dup']) expect(held.stdout).toMatch(new RegExp(`^disable +${u} +no longer in any sync item$`, 'm'));
    expect(await json(['user', 'show', 'bob'], o)).toMatchObject({ status: 'enabled' });

    const shown = await json<SyncRun>(['directory', 'run', 'ldap', id], o);
    expect(shown.pending.map((p) => p.username).sort()).toEqual(['bob', 'carol', 'dup']);
    await ok(['directory', 'approve', 'ldap', id], o);
    for (const u of ['bob', 'carol', 'dup']) expect(await json(['user', 'show', u], o)).toMatchObject({ status: 'disabled' });
    expect(await json(['user', 'show', 'alice'], o)).toMatchObject({ status: 'enabled' });
    const again = await run(['directory', 'approve', 'ldap', id], o);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('is approved, not awaiting approval');
    const audit = await json<{ action: string; actor: string }[]>(['audit', 'list', '--limit', '50'], o);
    expect(audit.some((e) => e.action === 'directory.sync.approve' && e.actor.startsWith('cli:'))).toBe(true);

    const unknown = await run(['directory', 'sync', 'nope'], o);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no synchronized directory named "nope"');
  }, 60_000);

  it('a sync killed half-way is marked interrupted by the next run, which ends with every user exactly once', async () => {
    await configure({ removal: 'delete', items: [{ name: 'bulk', ou: BULK_OU }] }, 'bulk');
    const child = spawn(process.execPath, [MAIN, 'directory', 'sync', 'bulk', '--json'], { cwd: dir, env: cleanEnv(o.env) });
    const keyring = await loadKeyring(path.join(dir, 'countersign.key'));
    const store = await openStore({ url: `sqlite:${path.join(dir, 'countersign.db')}`, keyring, migrate: false });
    try {
      let count = 0;
      for (let i = 0; i < 600 && count < 300 && child.exitCode === null; i++) {
        await new Promise((r) => setTimeout(r, 25));
        count = (await store.users.list({ limit: 1000, search: 'bulk' })).items.length;
      }
      expect(child.exitCode).toBeNull();
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const partial = (await store.users.list({ limit: 1000, search: 'bulk' })).items.length;
      expect(partial).toBeGreaterThan(0);

      const killed = (await store.directorySync.listRuns({ directory: 'bulk', limit: 1 }))[0];
      expect(killed?.status).toBe('running');
      // The lease of the killed process must expire before another run may start.
      const busy = await run(['directory', 'sync', 'bulk'], o);
      expect(busy.code).toBe(2);
      expect(busy.stderr).toMatch(/already running on/);
      await store.leases.release('directory-sync:bulk', (await store.leases.holder('directory-sync:bulk', Date.now())) ?? '');

      const nextRun = await run(['directory', 'sync', 'bulk', '--json'], o);
      expect(nextRun.stderr).toBe('');
      const next = JSON.parse(nextRun.stdout) as SyncRun;
      expect(next.failure).toBeNull();
      expect(next).toMatchObject({ status: 'completed', counts: { seen: BULK, removed: 0, errors: 0 } });
      expect(next.counts.added + next.counts.unchanged + next.counts.updated).toBe(BULK);
      expect(next.counts.added).toBeLessThan(BULK);
      expect((await store.directorySync.getRun(killed!.id))?.status).toBe('interrupted');
      const ids = new Set<string>();
      for (let after: string | null = null; ; ) {
        const page = await store.directorySync.members('bulk', after, 1000);
        if (page.length === 0) break;
        for (const m of page) ids.add(m.externalId);
        after = page[page.length - 1]!.id;
      }
      expect(ids.size).toBe(BULK);
      expect(await store.users.count()).toBe(BULK + 6); // and the 5 people, and the console administrator made by init
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await store.close();
    }
  }, 120_000);

  it('countersign serve runs the schedule: a sync at start, logged', async () => {
    await configure({ intervalMinutes: 1, items: [{ name: 'people', ou: PEOPLE }] }, 'sched');
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN, 'serve', '--json'], {
      cwd: dir,
      env: cleanEnv({ ...o.env, COUNTERSIGN_SERVER_HOST: '127.0.0.1', COUNTERSIGN_SERVER_PORT: String(port) }),
    });
    try {
      let out = '';
      const logged = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no sync logged: ${out}`)), 30_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const line = out.split('\n').find((l) => l.includes('directory synchronized'));
          if (line) {
            clearTimeout(timer);
            resolve(JSON.parse(line) as Record<string, unknown>);
          }
        });
      });
      expect(logged).toMatchObject({ directory: 'sched', status: 'completed', mode: 'full', seen: 5 });
      const status = await json<{ lastRun: SyncRun }>(['directory', 'status', 'sched'], o);
      expect(status.lastRun).toMatchObject({ trigger: 'schedule', status: 'completed' });
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 60_000);
});
