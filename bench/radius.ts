/**
 * Access-Requests per second through the RADIUS door, PAP + TOTP, with BENCH_USERS users (default
 * 200,000) each holding a TOTP token, beside FreeRADIUS 3.2 answering PAP for the same users from
 * a users file, in the same run, with the same load generator (bench/radius-load.ts).
 *
 *   node bench/radius.ts
 *
 * env: BENCH_USERS (200000), BENCH_SECONDS (10), BENCH_INFLIGHT (64), BENCH_WARMUP_SECONDS (2),
 * BENCH_APPEND=0 to skip append mode, BENCH_APPEND_USERS (5000), BENCH_FREERADIUS_THREADS (4),
 * BENCH_PRECOMPUTE, BENCH_LOG_LEVEL (warn), BENCH_CPU_PROF=<folder> for a V8 CPU profile of the
 * Countersign server (which then runs the TypeScript sources, for readable names).
 *
 * Countersign: a fresh installation (`countersign init`), the bundle started with `countersign
 * serve` on core 0 and the RADIUS door on loopback high ports with two clients, each with a
 * 32-character secret and Message-Authenticator required:
 * - 127.0.0.1, `mode: passcode`, `firstFactor: none`: User-Password carries the TOTP code;
 * - 127.0.0.2, `mode: append`, `firstFactor: local`: the local password (argon2id) then the code.
 * Every request is a different user with that user's current code, so every accept is a real
 * first-time verification (a replayed code is rejected).
 *
 * FreeRADIUS: test/support/freeradius.ts (rlm_files users file with cleartext passwords, PAP,
 * Message-Authenticator required on requests and first in replies), all its threads pinned to core 0.
 *
 * The ceiling: bench/radius-bare.ts, a bare Node.js responder doing only the codec's work (decode,
 * Message-Authenticator check, User-Password, signed Access-Accept), on core 0 like the others.
 *
 * The load generator runs on core 1. Needs freeradius, freeradius-utils and taskset (Debian:
 * freeradius freeradius-utils util-linux).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Actor, UserView } from '../src/core/api.ts';
import { loadConfig } from '../src/config/load.ts';
import { argon2Hasher } from '../src/platform/hashing.ts';
import { openContext } from '../src/server.ts';
import { startFreeRadius, type RadiusTestUser } from '../test/support/freeradius.ts';
import type { LoadOptions, LoadResult } from './radius-load.ts';
import { LOCAL_PASSWORD, papPasswordOf, totpSecretOf, userName } from './radius-users.ts';
import { TICKS_PER_SECOND, cpuTicks, peakRssMb, waitHttps } from './proc.ts';

const USERS = Number(process.env['BENCH_USERS'] ?? 200_000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const INFLIGHT = Number(process.env['BENCH_INFLIGHT'] ?? 64);
const WARMUP = Number(process.env['BENCH_WARMUP_SECONDS'] ?? 2);
const APPEND = process.env['BENCH_APPEND'] !== '0';
const APPEND_USERS = Math.min(Number(process.env['BENCH_APPEND_USERS'] ?? 5_000), Math.floor(USERS / 2));
const FR_THREADS = Number(process.env['BENCH_FREERADIUS_THREADS'] ?? 4);
const CPU_PROF = process.env['BENCH_CPU_PROF'];
// PAP requests built before the clock starts: more than FreeRADIUS answers here in the run (about 20,000/s).
const PRECOMPUTE = Number(process.env['BENCH_PRECOMPUTE'] ?? (WARMUP + SECONDS) * 30_000);
const HTTPS_PORT = 18543;
const AUTH_PORT = 18612;
const ACCT_PORT = 18613;
const BARE_PORT = 18614;
const SECRET = randomBytes(16).toString('hex'); // 32 characters
const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'bin/countersign');
const dir = mkdtempSync(join(tmpdir(), 'countersign-bench-radius-'));
const children: ChildProcess[] = [];
const admin: Actor = { kind: 'cli', name: 'bench', role: 'admin' };

function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);

const log = (message: string): void => void process.stderr.write(`${message}\n`);


interface Measured {
  load: LoadResult;
  /** Server CPU seconds inside the measured window. */
  cpuSeconds: number;
}

/** Runs the load generator on core 1 against a server process; the server's CPU time is read at the window's edges. */
async function runLoad(serverPid: number, options: Omit<LoadOptions, 'seconds' | 'warmupSeconds' | 'inflight' | 'retransmitMs' | 'giveUpMs' | 'precompute'>): Promise<Measured> {
  const full: LoadOptions = { ...options, seconds: SECONDS, warmupSeconds: WARMUP, inflight: INFLIGHT, retransmitMs: 1000, giveUpMs: 3000, precompute: PRECOMPUTE };
  const gen = spawn('taskset', ['-c', '1', process.execPath, join(root, 'bench/radius-load.ts'), JSON.stringify(full)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(gen);
  let before = NaN;
  let after = NaN;
  let result: LoadResult | undefined;
  for await (const line of createInterface({ input: gen.stdout! })) {
    if (line === 'window-start') before = cpuTicks(serverPid);
    else if (line === 'window-end') after = cpuTicks(serverPid);
    else if (line.startsWith('result ')) result = JSON.parse(line.slice(7)) as LoadResult;
  }
  await new Promise((r) => (gen.exitCode === null ? gen.once('exit', r) : r(null)));
  if (!result || Number.isNaN(before) || Number.isNaN(after)) throw new Error(`the load generator failed (${options.mode} on ${options.host}:${options.port})`);
  return { load: result, cpuSeconds: (after - before) / TICKS_PER_SECOND };
}

/** The process whose command line names this configuration folder (FreeRADIUS is started by the helper, not by us). */
function pidOf(program: string, folder: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args[0] === program && args.includes(folder)) return Number(entry);
    } catch {
      // The process ended meanwhile.
    }
  }
  throw new Error(`no ${program} process for ${folder}`);
}

// 1. A fresh installation, made the way an administrator makes it.
execFileSync(process.execPath, [join(root, 'scripts/build.ts')], { stdio: ['ignore', 'ignore', 'inherit'] });
execFileSync(process.execPath, [cli, 'init', '--dir', dir, '--json'], { stdio: ['ignore', 'ignore', 'inherit'] });
const configFile = join(dir, 'countersign.yaml');

// 2. Users and their tokens through the core: users in batches, tokens as an import file (CSV).
const seedStart = performance.now();
const ctx = await openContext(await loadConfig({ file: configFile, env: {} }));
const BATCH = 5_000;
const appendFirst = APPEND ? USERS - APPEND_USERS : USERS;
const appendIds: string[] = [];
for (let from = 0; from < USERS; from += BATCH) {
  const names = Array.from({ length: Math.min(BATCH, USERS - from) }, (_, k) => userName(from + k));
  const created = await ctx.core.users.createMany(
    names.map((username) => ({ username })),
    admin,
  );
  created.forEach((u, k) => {
    if (!('id' in u)) throw new Error(`user ${names[k]} not created: ${(u as Error).message}`);
    if (from + k >= appendFirst) appendIds.push((u as UserView).id);
  });
  const csv = ['username,type,secret,digits,period,algorithm', ...names.map((n) => `${n},totp,0x${totpSecretOf(n).toString('hex')},6,30,SHA1`)].join('\n');
  const report = await ctx.core.methods.importTokens('csv', csv, admin);
  if (report.created !== names.length) throw new Error(`token import: ${report.created} of ${names.length} created: ${JSON.stringify(report.errors.slice(0, 3))}`);
  process.stderr.write(`\rseeding ${from + names.length}/${USERS}`);
}
// The append-mode users share one local password: one argon2id hash (the server's parameters), set through the store.
if (APPEND) {
  const hash = await argon2Hasher().hash(LOCAL_PASSWORD);
  const now = Date.now();
  for (const id of appendIds) await ctx.store.users.update(id, { passwordHash: hash }, now);
}
await ctx.close();
log(`\rseeded ${USERS} users and tokens in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

// 3. The server, pinned to core 0, with the RADIUS door.
const clients = [
  { name: 'bench-passcode', addresses: ['127.0.0.1/32'], secret: SECRET, requireMessageAuthenticator: true, firstFactor: 'none', mode: 'passcode' },
  { name: 'bench-append', addresses: ['127.0.0.2/32'], secret: SECRET, requireMessageAuthenticator: true, firstFactor: 'local', mode: 'append', appendCodeLength: 6 },
];
const env = {
  ...process.env,
  COUNTERSIGN_CONFIG: configFile,
  COUNTERSIGN_SERVER_PORT: String(HTTPS_PORT),
  COUNTERSIGN_SERVER_HOST: '127.0.0.1',
  // As bench/api-verify.ts; at `info` the door writes one log line per request (BENCH_LOG_LEVEL=info).
  COUNTERSIGN_LOG_LEVEL: process.env['BENCH_LOG_LEVEL'] ?? 'warn',
  COUNTERSIGN_RADIUS_ENABLED: 'true',
  COUNTERSIGN_RADIUS_LISTEN: '["127.0.0.1"]',
  COUNTERSIGN_RADIUS_AUTH_PORT: String(AUTH_PORT),
  COUNTERSIGN_RADIUS_ACCT_PORT: String(ACCT_PORT),
  COUNTERSIGN_RADIUS_CLIENTS: JSON.stringify(clients),
};
// With a profile, the server runs the TypeScript sources (same code, unminified names in the profile).
const serverArgs = [cli, 'serve'];
if (CPU_PROF) {
  mkdirSync(CPU_PROF, { recursive: true });
  serverArgs.splice(0, 1, '--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`, join(root, 'src/cli/main.ts'));
}
// bin/countersign runs the bundle only while it is newer than every source file (sources may change during the run).
const newestSource = (folder: string): number =>
  Math.max(0, ...readdirSync(folder, { withFileTypes: true }).map((e) => (e.isDirectory() ? newestSource(join(folder, e.name)) : statSync(join(folder, e.name)).mtimeMs)));
const serverCode = CPU_PROF ? 'the TypeScript sources (profiling)' : statSync(join(root, 'dist/countersign.mjs')).mtimeMs >= newestSource(join(root, 'src')) ? 'the bundle' : 'the TypeScript sources (a source file changed after the build)';
const server = spawn('taskset', ['-c', '0', process.execPath, ...serverArgs], { env, stdio: ['ignore', 'ignore', 'inherit'] });
children.push(server);
await waitHttps(HTTPS_PORT, '/readyz', 15_000);
// taskset execs node, so the child's pid is the server's.
const serverPid = server.pid as number;

log('Countersign, passcode mode (PAP + TOTP)');
const passcode = await runLoad(serverPid, { host: '127.0.0.1', port: AUTH_PORT, bind: '127.0.0.1', secret: SECRET, mode: 'passcode', first: 0, count: appendFirst });
const passcodeRss = peakRssMb(serverPid);
let append: Measured | undefined;
if (APPEND) {
  log('Countersign, append mode (local password + TOTP)');
  append = await runLoad(serverPid, { host: '127.0.0.1', port: AUTH_PORT, bind: '127.0.0.2', secret: SECRET, mode: 'append', first: appendFirst, count: APPEND_USERS });
}
const serverRss = peakRssMb(serverPid);
await new Promise<void>((resolve) => {
  server.once('exit', () => resolve());
  server.kill('SIGTERM');
});

// 4. The ceiling: a bare Node.js responder with the same codec work and no second factor.
log('bare Node.js RADIUS responder (ceiling)');
const bare = spawn('taskset', ['-c', '0', process.execPath, join(root, 'bench/radius-bare.ts'), String(BARE_PORT), SECRET], { stdio: ['ignore', 'ignore', 'inherit'] });
children.push(bare);
const barePid = bare.pid as number;
const ceiling = await runLoad(barePid, { host: '127.0.0.1', port: BARE_PORT, bind: '127.0.0.1', secret: SECRET, mode: 'pap', first: 0, count: USERS });
const bareRss = peakRssMb(barePid);
bare.kill('SIGTERM');

// 5. The peer in the same run: FreeRADIUS with the same users, cleartext passwords in a users file.
log(`FreeRADIUS: writing a users file of ${USERS} users and starting`);
const frStart = performance.now();
const users: RadiusTestUser[] = Array.from({ length: USERS }, (_, i) => ({ name: userName(i), password: papPasswordOf(userName(i)) }));
const fr = await startFreeRadius({ secret: SECRET, users, requireMessageAuthenticator: true, replyMessageAuthenticator: true, ipv6: false, threads: FR_THREADS });
const frReadyMs = performance.now() - frStart;
let peer: Measured;
let peerRss: number;
try {
  const frPid = pidOf('/usr/sbin/freeradius', fr.dir);
  execFileSync('taskset', ['-a', '-p', '-c', '0', String(frPid)], { stdio: 'ignore' });
  log('FreeRADIUS, PAP');
  peer = await runLoad(frPid, { host: fr.host, port: fr.authPort, bind: '127.0.0.1', secret: SECRET, mode: 'pap', first: 0, count: USERS });
  peerRss = peakRssMb(frPid);
} finally {
  await fr.stop();
}

// 6. The table.
const n = (x: number, digits = 0): string => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const row = (name: string, m: Measured, rss: number): string =>
  `| ${name} | ${n(m.load.rps)} | ${(m.load.rps / peer.load.rps).toFixed(2)}x | ${n((m.cpuSeconds / m.load.windowAnswered) * 1e6)} | ${m.load.p50.toFixed(2)} | ${m.load.p99.toFixed(2)} | ${m.load.lost} | ${m.load.retransmitted} | ${m.load.accepts} / ${m.load.rejects} | ${m.load.badResponses} | ${n(rss)} | ${n(m.load.generatorCpu * 100)}% |`;
console.log(`\nRADIUS Access-Requests: ${n(USERS)} users, ${INFLIGHT} in flight, ${SECONDS} s measured after ${WARMUP} s of warm-up, Message-Authenticator on every request and required in every response`);
console.log(`servers on core 0, load generator on core 1; the Countersign server ran ${serverCode}\n`);
console.log('| target | requests/s | ratio to FreeRADIUS | server CPU µs/req | p50 ms | p99 ms | lost | retransmitted | accepts / rejects | bad responses | peak RSS MB | generator CPU |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
console.log(row('Countersign, PAP + TOTP (passcode, firstFactor none)', passcode, passcodeRss));
if (append) console.log(row('Countersign, local password (argon2id) + TOTP (append)', append, serverRss));
console.log(row(`FreeRADIUS 3.2 PAP, users file (peer, ${FR_THREADS} threads)`, peer, peerRss));
console.log(row('bare Node.js responder, codec only (ceiling)', ceiling, bareRss));
console.log(`\nFreeRADIUS loaded the ${n(USERS)}-user file and answered Status-Server ${n(frReadyMs)} ms after the harness started writing it.`);
const goals = [
  ['throughput >= 1.25x FreeRADIUS PAP', `${(passcode.load.rps / peer.load.rps).toFixed(2)}x`, passcode.load.rps >= 1.25 * peer.load.rps],
  [`p99 <= 20 ms at ${INFLIGHT} in flight`, `${passcode.load.p99.toFixed(1)} ms`, passcode.load.p99 <= 20],
  ['no packet lost', `${passcode.load.lost} lost, ${passcode.load.retransmitted} retransmitted`, passcode.load.lost === 0],
] as const;
console.log('\nGoals (passcode mode):');
for (const [goal, measured, met] of goals) console.log(`- ${goal}: ${measured}: ${met ? 'met' : 'NOT met'}`);
const wrongAnswers = [passcode, ...(append ? [append] : []), peer, ceiling].reduce((sum, m) => sum + m.load.rejects + m.load.badResponses + m.load.challenges, 0);
if (wrongAnswers > 0) console.log(`\nnote: ${wrongAnswers} rejects, challenges or bad responses where every request should have been accepted (see the table).`);
const reused = passcode.load.reusedInStep + (append?.load.reusedInStep ?? 0);
if (reused > 0) console.log(`note: ${reused} requests reached a user twice in one 30-second step (a replayed code, rejected): raise BENCH_USERS.`);
if (CPU_PROF) console.log(`\nCPU profile of the Countersign server: ${CPU_PROF}`);
