/**
 * A full directory synchronization of BENCH_USERS users (default 200,000) from a real slapd into
 * the embedded SQLite store, beside a paged `ldapsearch` of the same users from the same slapd in
 * the same run, then a second full synchronization with nothing changed (which must write nothing).
 *
 *   node bench/directory-sync.ts            (env: BENCH_USERS, BENCH_CPU_PROF=<folder>)
 *
 * Needs slapd, ldap-utils and taskset (Debian: slapd, ldap-utils, util-linux). slapd runs pinned
 * to core 1; ldapsearch and the synchronization (bench/directory-sync-worker.ts, one child process
 * per run) run on core 0. With BENCH_CPU_PROF set, each synchronization writes a V8 CPU profile
 * (node --cpu-prof) into that folder. Last, it builds the bundle (npm run build) and runs
 * `countersign directory sync` once more, nothing changed, for the command's own peak RSS.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { parseDocument } from 'yaml';
import { loadConfig } from '../src/config/load.ts';
import type { DirectoryConfig } from '../src/config/schema.ts';
import { syncTargetFromConfig } from '../src/directory/config.ts';
import { requestedAttributes } from '../src/directory/presets.ts';
import { itemFilter } from '../src/directory/sync.ts';
import { startSlapd, type Slapd } from '../test/support/slapd.ts';

const USERS = Number(process.env['BENCH_USERS'] ?? 200_000);
const CPU_PROF = process.env['BENCH_CPU_PROF'] ? resolve(process.env['BENCH_CPU_PROF']) : undefined;
const PAGE_SIZE = 1000;
const LDAPSEARCH_RUNS = 3;
const DIRECTORY = 'bench';
const OU = 'ou=bench,dc=example,dc=test';
// Writes to these tables (and audit events other than the run's own start and finish) are
// per-user work: a synchronization with nothing changed should make none.
const USER_TABLES = new Set(['users', 'methods', 'directory_entries']);
const RUN_AUDIT = /^directory\.sync\./;

if (!Number.isInteger(USERS) || USERS < 1) throw new Error('BENCH_USERS must be a positive integer');

const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'bin/countersign');
const work = mkdtempSync(join(tmpdir(), 'countersign-bench-sync-'));
let slapd: Slapd | undefined;

process.on('exit', () => {
  // A failed run must not leave slapd behind: stop() is async, so kill it by its pid file here.
  if (slapd) {
    try {
      process.kill(Number(readFileSync(join(slapd.dir, 'slapd.pid'), 'utf8').trim()), 'SIGKILL');
    } catch {
      // Already stopped.
    }
    rmSync(slapd.dir, { recursive: true, force: true });
  }
  rmSync(work, { recursive: true, force: true });
});

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const statFields = (pid: number | 'self'): string[] => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
/** CPU seconds used by a process (utime + stime). */
const cpuSeconds = (pid: number): number => {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
};
/** CPU seconds of this process's finished children (cutime + cstime). */
const childrenCpuSeconds = (): number => {
  const f = statFields('self');
  return (Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND;
};

let pinned = false;
try {
  execFileSync('taskset', ['-c', '0', 'true']);
  pinned = true;
} catch {
  console.error('taskset is not available (util-linux): running unpinned');
}
/** The client side (ldapsearch, the synchronization) runs on core 0 when pinning works. */
const onCore0 = (cmd: string, args: string[]): [string, string[]] => (pinned ? ['taskset', ['-c', '0', cmd, ...args]] : [cmd, args]);

// ---------------------------------------------------------------------------------------------
// 1. The directory: N generated inetOrgPerson entries, written to an LDIF file a chunk at a time.

const GIVEN = 'Alice Bruno Chloé Dmitri Emeka Fatima Grace Hiroshi Inès Jonas Kwame Lena Mateo Nadia Oskar Priya Quentin Rosa Søren Yuki'.split(' ');
const FAMILY =
  'Anders Brown Chen Dubois Eriksen García Hoffmann Ivanova Jensen Kim López Müller Nakamura Okafor Petrov Quinn Rossi Schmidt Tanaka Ødegaard'.split(' ');
const LANGUAGES = ['de', 'fr', 'es', 'en-GB', 'pt-BR', 'ja'];
const digits = Math.max(6, String(USERS - 1).length);
const uidOf = (i: number): string => `user${String(i).padStart(digits, '0')}`;

/** One LDIF line; values that are not plain ASCII (RFC 2849 SAFE-STRING) are base64. */
function line(attribute: string, value: string): string {
  return /^[\x01-\x09\x0b\x0c\x0e-\x1f\x21-\x39\x3b\x3d-\x7f][\x01-\x09\x0b\x0c\x0e-\x7f]*$/.test(value)
    ? `${attribute}: ${value}\n`
    : `${attribute}:: ${Buffer.from(value, 'utf8').toString('base64')}\n`;
}

function entry(i: number): string {
  const uid = uidOf(i);
  const given = GIVEN[i % GIVEN.length] as string;
  const family = FAMILY[Math.floor(i / GIVEN.length) % FAMILY.length] as string;
  let text =
    `dn: uid=${uid},${OU}\n` +
    'objectClass: inetOrgPerson\n' +
    line('uid', uid) +
    line('cn', `${given} ${family}`) +
    line('sn', family) +
    line('givenName', given) +
    line('displayName', `${given} ${family} (${i})`) +
    line('mail', `${uid}@example.test`) +
    // +1 415 200-0000 onwards: valid US numbers in E.164, one per user.
    line('mobile', `+1415${2_000_000 + (i % 8_000_000)}`);
  if (i % 4 === 0) text += line('telephoneNumber', `+1212${2_000_000 + (i % 8_000_000)}`);
  if (i % 5 === 0) text += line('preferredLanguage', LANGUAGES[(i / 5) % LANGUAGES.length] as string);
  return text + '\n';
}

function writeLdif(file: string): void {
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, `dn: ${OU}\nobjectClass: organizationalUnit\nou: bench\n\n`);
    let chunk = '';
    for (let i = 0; i < USERS; i++) {
      chunk += entry(i);
      if (chunk.length >= 1 << 20) {
        writeSync(fd, chunk);
        chunk = '';
      }
    }
    writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
}

const ldif = join(work, 'users.ldif');
let t = performance.now();
writeLdif(ldif);
const ldifSeconds = (performance.now() - t) / 1000;

t = performance.now();
slapd = await startSlapd({ extraLdif: ldif, maxsize: 2 * 1024 ** 3, indexes: ['entryCSN eq', 'entryUUID eq'] });
const loadSeconds = (performance.now() - t) / 1000;
rmSync(ldif);
const slapdPid = Number(readFileSync(join(slapd.dir, 'slapd.pid'), 'utf8').trim());
if (pinned) execFileSync('taskset', ['-a', '-p', '-c', '1', String(slapdPid)], { stdio: 'ignore' });
console.error(`directory: ${USERS} users written as LDIF in ${ldifSeconds.toFixed(1)} s, loaded with slapadd and slapd started in ${loadSeconds.toFixed(1)} s`);

// ---------------------------------------------------------------------------------------------
// 2. A fresh installation, made the way an administrator makes it, with the directory and one sync item.

const bind = { dn: slapd.bindDn, password: slapd.bindPassword };
const home = join(work, 'countersign');
execFileSync(process.execPath, [cli, 'init', '--dir', home, '--json'], { stdio: 'pipe' });
const configFile = join(home, 'countersign.yaml');
writeFileSync(join(home, 'ldap-bind-password'), `${bind.password}\n`, { mode: 0o600 });
const doc = parseDocument(readFileSync(configFile, 'utf8'));
doc.set(
  'directories',
  doc.createNode([
    {
      name: DIRECTORY,
      preset: 'openldap',
      urls: [slapd.url],
      bindDn: bind.dn,
      bindPasswordFile: './ldap-bind-password',
      baseDn: slapd.baseDn,
      pageSize: PAGE_SIZE,
      sync: { intervalMinutes: 60, items: [{ name: 'everyone', ou: OU }] },
    },
  ]),
);
writeFileSync(configFile, String(doc));
const dbFile = join(home, 'countersign.db');
if (!existsSync(dbFile)) throw new Error(`no database at ${dbFile}`);

// The search the synchronization makes: its filter and attributes, taken from the configured target.
const target = await syncTargetFromConfig((await loadConfig({ file: configFile, env: {} })).directories[0] as DirectoryConfig);
const item = target?.items[0];
if (!target || !item) throw new Error('the configuration has no sync item');
const filter = itemFilter(item, null, target.changeMarker);
const attributes = [...new Set([...requestedAttributes(item.map), ...(target.changeMarker ? [target.changeMarker.attribute] : [])])];

// ---------------------------------------------------------------------------------------------
// 3. The peer: a paged ldapsearch with the synchronization's base, filter, attributes and page
// size, bound as the same service account.

const ldapsearchArgs = ['-x', '-LLL', '-H', slapd.url, '-D', bind.dn, '-w', bind.password, '-b', OU, '-E', `pr=${PAGE_SIZE}/noprompt`, filter, ...attributes];

interface Timed {
  seconds: number;
  slapdCpu: number;
  clientCpu: number;
  stderr: string;
}

/** Runs a command to completion; stdout is discarded, or handed to `onStdout`; stderr is kept for errors, or shown. */
async function timed(cmd: string, args: string[], onStdout?: (chunk: Buffer) => void, showStderr = false): Promise<Timed> {
  const [c, a] = onCore0(cmd, args);
  const slapdBefore = cpuSeconds(slapdPid);
  const childrenBefore = childrenCpuSeconds();
  const start = performance.now();
  const child = spawn(c, a, { stdio: ['ignore', onStdout ? 'pipe' : 'ignore', showStderr ? 'inherit' : 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  if (onStdout) child.stdout?.on('data', onStdout);
  const code = await new Promise<number | null>((r) => child.once('close', r));
  const seconds = (performance.now() - start) / 1000;
  if (code !== 0) throw new Error(`${cmd} exited with ${code}${stderr ? `: ${stderr.slice(-2000)}` : ''}`);
  return { seconds, slapdCpu: cpuSeconds(slapdPid) - slapdBefore, clientCpu: childrenCpuSeconds() - childrenBefore, stderr };
}

// Once with the output counted (every entry arrives), then timed runs with the output discarded.
let entries = 0;
let carry = '';
await timed('ldapsearch', ldapsearchArgs, (chunk) => {
  const text = carry + chunk.toString('latin1');
  const lines = text.split('\n');
  carry = lines.pop() ?? '';
  for (const l of lines) if (l.startsWith('dn:')) entries++;
});
if (entries !== USERS) throw new Error(`ldapsearch returned ${entries} entries, expected ${USERS}`);
const searches: Timed[] = [];
for (let i = 0; i < LDAPSEARCH_RUNS; i++) searches.push(await timed('ldapsearch', ldapsearchArgs));
searches.sort((a, b) => a.seconds - b.seconds);
const peer = searches[Math.floor(searches.length / 2)] as Timed;
console.error(`ldapsearch: ${entries} entries; ${searches.map((s) => s.seconds.toFixed(2)).join(', ')} s`);

interface WorkerResult {
  summary: {
    status: string;
    seen: number;
    added: number;
    updated: number;
    unchanged: number;
    disabled: number;
    enabled: number;
    removed: number;
    errors: number;
    skipped: number;
    durationMs: number;
    failure: string | null;
  };
  syncMs: number;
  closeMs: number;
  rssBeforeKiB: number;
  maxRssKiB: number;
  peakHeapUsedMiB: number;
  writtenMiB: number;
  cpuSeconds: number;
}

let profileRun = 0;
/** One synchronization in a child process (core 0); its own figures come back as one JSON line. */
async function sync(label: string): Promise<WorkerResult & Timed> {
  const profile = CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF, '--cpu-prof-name', `sync-${++profileRun}-${label}.cpuprofile`] : [];
  if (CPU_PROF) mkdirSync(CPU_PROF, { recursive: true });
  let out = '';
  const run = await timed(
    process.execPath,
    [...profile, join(root, 'bench/directory-sync-worker.ts'), configFile, DIRECTORY],
    (chunk) => (out += chunk.toString()),
    true,
  );
  const last = out.trim().split('\n').pop() ?? '';
  let result: WorkerResult;
  try {
    result = JSON.parse(last) as WorkerResult;
  } catch {
    throw new Error(`the synchronization printed no result: ${out.slice(-2000)}`);
  }
  return { ...run, ...result };
}

function withDb<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(dbFile);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

interface Snapshot {
  users: number;
  directoryUsers: number;
  maxUpdatedAt: number | null;
  auditEvents: number;
  maxAuditId: number | null;
  usersSha256: string;
}

function snapshot(): Snapshot {
  return withDb((db) => {
    const hash = createHash('sha256');
    for (const row of db.prepare('SELECT * FROM users ORDER BY id').raw().iterate()) hash.update(JSON.stringify(row));
    const one = (q: string): number | null => db.prepare(q).pluck().get() as number | null;
    return {
      users: one('SELECT count(*) FROM users') ?? 0,
      directoryUsers: one(`SELECT count(*) FROM users WHERE source_directory = '${DIRECTORY}'`) ?? 0,
      maxUpdatedAt: one('SELECT max(updated_at) FROM users'),
      auditEvents: one('SELECT count(*) FROM audit_events') ?? 0,
      maxAuditId: one('SELECT max(id) FROM audit_events'),
      usersSha256: hash.digest('hex'),
    };
  });
}

/**
 * Row triggers on every table count each INSERT, UPDATE and DELETE, including updates that store
 * the values already there, so a synchronization that rewrites rows cannot pass as writing none.
 */
function installWriteCounters(): string[] {
  return withDb((db) => {
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'kysely_%'").pluck().all() as string[]
    ).filter((n) => n !== 'bench_writes');
    db.exec('CREATE TABLE bench_writes (tbl TEXT NOT NULL, op TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (tbl, op))');
    const seed = db.prepare('INSERT INTO bench_writes VALUES (?, ?, 0)');
    for (const table of tables) {
      for (const op of ['insert', 'update', 'delete']) {
        seed.run(table, op);
        db.exec(
          `CREATE TRIGGER "bench_${table}_${op}" AFTER ${op.toUpperCase()} ON "${table}" BEGIN UPDATE bench_writes SET n = n + 1 WHERE tbl = '${table}' AND op = '${op}'; END`,
        );
      }
    }
    return tables;
  });
}

function readWriteCounters(tables: string[]): { tbl: string; op: string; n: number }[] {
  return withDb((db) => {
    const rows = db.prepare('SELECT tbl, op, n FROM bench_writes WHERE n > 0 ORDER BY tbl, op').all() as { tbl: string; op: string; n: number }[];
    for (const table of tables) for (const op of ['insert', 'update', 'delete']) db.exec(`DROP TRIGGER "bench_${table}_${op}"`);
    db.exec('DROP TABLE bench_writes');
    return rows;
  });
}

// ---------------------------------------------------------------------------------------------
// 4. Full synchronization into the empty store, then 5. the same again with nothing changed.

const full = await sync('full');
const afterFull = snapshot();
const tables = installWriteCounters();
const resync = await sync('resync');
const writes = readWriteCounters(tables);
const afterResync = snapshot();
const newAudit = withDb(
  (db) =>
    db.prepare('SELECT action, count(*) AS n FROM audit_events WHERE id > ? GROUP BY action ORDER BY action').all(afterFull.maxAuditId ?? 0) as {
      action: string;
      n: number;
    }[],
);

// ---------------------------------------------------------------------------------------------
// 6. The product's own command, `countersign directory sync`, on the bundle as administrators run
// it (the worker above runs the TypeScript sources), nothing changed: its peak RSS and duration.

execFileSync(process.execPath, [join(root, 'scripts/build.ts')], { stdio: 'pipe' });
const newest = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((m, e) => Math.max(m, e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs), 0);
// bin/countersign runs the bundle only while it is newer than every source file.
const onBundle = statSync(join(root, 'dist/countersign.mjs')).mtimeMs >= newest(join(root, 'src'));
let cliOut = '';
// GNU time reports the command's peak RSS (Debian package: time); without it the figure is left out.
const cliArgs = [process.execPath, cli, 'directory', 'sync', DIRECTORY, '--config', configFile, '--json'];
const gnuTime = existsSync('/usr/bin/time');
const cliRun = gnuTime
  ? await timed('/usr/bin/time', ['-f', 'maxrss %M', ...cliArgs], (c) => (cliOut += c.toString()))
  : await timed(cliArgs[0] as string, cliArgs.slice(1), (c) => (cliOut += c.toString()));
const cliSync = JSON.parse(cliOut) as { status: string; startedAt: number; finishedAt: number; counts: { unchanged: number; errors: number } };
const cliMaxRssKiB = Number(/maxrss (\d+)/.exec(cliRun.stderr)?.[1]);
const cliSeconds = (cliSync.finishedAt - cliSync.startedAt) / 1000;

// ---------------------------------------------------------------------------------------------
// 7. The table.

const userWrites = writes.filter((w) => USER_TABLES.has(w.tbl));
const userAudit = newAudit.filter((a) => !RUN_AUDIT.test(a.action));
const userRowsWritten = userWrites.reduce((n, w) => n + w.n, 0) + userAudit.reduce((n, a) => n + a.n, 0);
const bookkeeping = [
  ...writes.filter((w) => !USER_TABLES.has(w.tbl) && w.tbl !== 'audit_events').map((w) => `${w.tbl} ${w.n} ${w.op}`),
  ...newAudit.filter((a) => RUN_AUDIT.test(a.action)).map((a) => `audit event ${a.action} x${a.n}`),
];
const ratio = (s: number): string => `${(s / peer.seconds).toFixed(2)}x`;
const mb = (kib: number): string => (Number.isFinite(kib) ? (kib / 1024).toFixed(0) : '-');
const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
const s = (x: number): string => x.toFixed(2);

console.log(
  `\nDirectory synchronization: ${USERS} users from slapd (mdb, same host) into SQLite, page size ${PAGE_SIZE}${pinned ? '; slapd on core 1, client on core 0' : '; unpinned'}`,
);
console.log(`search: ${filter} under ${OU}, attributes ${attributes.join(' ')}\n`);
console.log('| run | wall s | ratio to ldapsearch | client CPU s | slapd CPU s | peak RSS MB | peak JS heap MB | written MB | users/s |');
console.log('|---|---|---|---|---|---|---|---|---|');
console.log(
  `| paged ldapsearch (peer, median of ${LDAPSEARCH_RUNS}) | ${s(peer.seconds)} | 1.00x | ${s(peer.clientCpu)} | ${s(peer.slapdCpu)} | - | - | - | ${(USERS / peer.seconds).toFixed(0)} |`,
);
for (const [name, r] of [
  ['full sync, empty store', full],
  ['full sync, nothing changed', resync],
] as const) {
  console.log(
    `| ${name} | ${s(r.syncMs / 1000)} (process ${s(r.seconds)}) | ${ratio(r.syncMs / 1000)} | ${s(r.cpuSeconds)} | ${s(r.slapdCpu)} | ${mb(r.maxRssKiB)} | ${r.peakHeapUsedMiB.toFixed(0)} | ${r.writtenMiB.toFixed(0)} | ${(USERS / (r.syncMs / 1000)).toFixed(0)} |`,
  );
}
console.log(
  `| \`countersign directory sync\` (${onBundle ? 'bundle' : 'sources: the bundle was older than a source file'}), nothing changed | ${s(cliSeconds)} (process ${s(cliRun.seconds)}) | ${ratio(cliSeconds)} | ${s(cliRun.clientCpu)} (process) | ${s(cliRun.slapdCpu)} | ${mb(cliMaxRssKiB)} | - | - | ${(USERS / cliSeconds).toFixed(0)} |`,
);
console.log('');
console.log(`full sync: ${ratio(full.syncMs / 1000)} of ldapsearch (goal <= 1.5x: ${verdict(full.syncMs / 1000 <= 1.5 * peer.seconds)})`);
console.log(`no-change resync: ${ratio(resync.syncMs / 1000)} of ldapsearch (goal <= 1.2x: ${verdict(resync.syncMs / 1000 <= 1.2 * peer.seconds)})`);
console.log(
  `rows written by the no-change resync (users, methods, directory_entries, audit events about users): ${userRowsWritten} (goal 0: ${verdict(userRowsWritten === 0)})`,
);
for (const w of userWrites) console.log(`  ${w.tbl}: ${w.n} ${w.op}`);
for (const a of userAudit) console.log(`  audit event ${a.action}: ${a.n}`);
console.log(`  the run's own records: ${bookkeeping.length === 0 ? 'none' : bookkeeping.join(', ')}`);
const same = (k: keyof Snapshot): string => `${String(afterFull[k])} -> ${String(afterResync[k])}${afterFull[k] === afterResync[k] ? '' : ' (CHANGED)'}`;
console.log(
  `  users before -> after: count ${same('users')}, max(updated_at) ${same('maxUpdatedAt')}, sha256 of all rows ${afterFull.usersSha256.slice(0, 16)} -> ${afterResync.usersSha256.slice(0, 16)}${afterFull.usersSha256 === afterResync.usersSha256 ? '' : ' (CHANGED)'}`,
);
const runAuditCount = newAudit.filter((a) => RUN_AUDIT.test(a.action)).reduce((n, a) => n + a.n, 0);
console.log(
  `  audit_events before -> after: count ${afterFull.auditEvents} -> ${afterResync.auditEvents} (+${afterResync.auditEvents - afterFull.auditEvents}, of which ${runAuditCount} the run's own start and finish)`,
);
const peakKiB = Math.max(full.maxRssKiB, resync.maxRssKiB);
console.log(
  `peak RSS of the synchronization: ${mb(peakKiB)} MB in the worker (goal <= 150 MB: ${verdict(peakKiB <= 150 * 1024)}), of which ${mb(full.rssBeforeKiB)} MB before the run started (modules, store, core)${gnuTime ? `; ${mb(cliMaxRssKiB)} MB for the command on the ${onBundle ? 'bundle' : 'sources'}` : ''}`,
);
console.log(`summaries: full ${JSON.stringify(full.summary)}; resync ${JSON.stringify(resync.summary)}`);
console.log(`setup: LDIF written in ${ldifSeconds.toFixed(1)} s; slapadd and slapd start ${loadSeconds.toFixed(1)} s`);

let failed = false;
for (const [name, r] of [
  ['full sync', full],
  ['no-change resync', resync],
] as const) {
  if (r.summary.status !== 'completed' || r.summary.errors > 0) {
    console.error(`${name}: status ${r.summary.status}, ${r.summary.errors} errors`);
    failed = true;
  }
}
if (cliSync.status !== 'completed' || cliSync.counts.errors > 0 || cliSync.counts.unchanged !== USERS) {
  console.error(`countersign directory sync: status ${cliSync.status}, ${cliSync.counts.errors} errors, ${cliSync.counts.unchanged} unchanged`);
  failed = true;
}
if (afterFull.directoryUsers !== USERS || afterResync.directoryUsers !== USERS) {
  console.error(
    `users from the directory in the store: ${afterFull.directoryUsers} after the full sync, ${afterResync.directoryUsers} after the resync; expected ${USERS}`,
  );
  failed = true;
}
await slapd.stop();
slapd = undefined;
process.exitCode = failed ? 1 : 0;
