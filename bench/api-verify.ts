/**
 * TOTP verifications per second through POST /api/v1/authentications over HTTPS keep-alive, with
 * BENCH_USERS users (default 200,000) each holding a TOTP token, beside a bare Fastify HTTPS route
 * measured in the same run. Every request is a different user with that user's current code, so
 * every approved request is a real, first-time verification (replays would be denied).
 *
 *   node bench/api-verify.ts            (env: BENCH_USERS, BENCH_SECONDS, BENCH_CONNECTIONS,
 *                                        BENCH_LOG_LEVEL: the server's log level, default warn)
 *
 * BENCH_CPU_PROF=<folder> writes a V8 CPU profile of the Countersign server there (the server then
 * runs the TypeScript sources, for readable names).
 *
 * Needs wrk and taskset (Debian: wrk, util-linux). The server runs on core 0, wrk on core 1.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCode } from '../src/core/oath.ts';
import { loadConfig } from '../src/config/load.ts';
import { openContext } from '../src/server.ts';
import { TICKS_PER_SECOND, cpuTicks, peakRssMb, waitHttps } from './proc.ts';

const USERS = Number(process.env['BENCH_USERS'] ?? 200_000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 64);
const CPU_PROF = process.env['BENCH_CPU_PROF'];
const PORT = 18443;
const BARE_PORT = 18444;
const root = new URL('..', import.meta.url).pathname;
// The production entry point: the bundle, as scripts/quickstart runs it.
const cli = join(root, 'bin/countersign');
const dir = mkdtempSync(join(tmpdir(), 'countersign-bench-'));
const children: ChildProcess[] = [];

function cleanup(): void {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);

const userName = (i: number) => `user${String(i).padStart(6, '0')}`;
const secretOf = (name: string) => new Uint8Array(createHmac('sha1', 'countersign-bench').update(name).digest());



interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: string;
  approved?: number;
  other?: number;
}

function ms(text: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

function runWrk(port: number, script: string, env: Record<string, string>): WrkResult {
  const out = execFileSync(
    'taskset',
    ['-c', '1', 'wrk', '-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', '-s', script, `https://127.0.0.1:${port}`],
    { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 20 },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const p50 = ms(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p99 = ms(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const errors = [/Socket errors:.*/.exec(out)?.[0], /Non-2xx or 3xx responses: \d+/.exec(out)?.[0]].filter(Boolean).join('; ');
  const result = /RESULT approved=(\d+) other=(\d+)/.exec(out);
  return { rps, p50, p99, requests, errors, ...(result ? { approved: Number(result[1]), other: Number(result[2]) } : {}) };
}

// 1. A fresh installation, made the way an administrator makes it.
execFileSync(process.execPath, [join(root, "scripts/build.ts")], { stdio: "inherit" });
const init = JSON.parse(execFileSync(process.execPath, [cli, "init", "--dir", dir, "--json"], { encoding: "utf8" })) as { apiKey: string };
const configFile = join(dir, 'countersign.yaml');
const env = {
  ...process.env,
  COUNTERSIGN_CONFIG: configFile,
  COUNTERSIGN_SERVER_PORT: String(PORT),
  COUNTERSIGN_SERVER_HOST: '127.0.0.1',
  COUNTERSIGN_RATE_LIMIT_PER_KEY_PER_MINUTE: '100000000',
  COUNTERSIGN_LOG_LEVEL: process.env['BENCH_LOG_LEVEL'] ?? 'warn',
};

// 2. Seed the users and their tokens through the store.
const config = await loadConfig({ file: configFile, env: {} });
const ctx = await openContext(config);
const seedStart = performance.now();
const existing = await ctx.store.users.count();
for (let i = existing; i < USERS; i++) {
  const name = userName(i);
  const id = `bench${i}`;
  await ctx.store.users.create({ username: name }, id, Date.now());
  await ctx.store.methods.add({ userId: id, type: 'totp', label: 'bench', secret: secretOf(name), config: { algorithm: 'SHA1', digits: 6, period: 30, serial: null, origin: 'software' } }, `m${id}`, Date.now());
  if (i % 20_000 === 0) process.stderr.write(`\rseeding ${i}/${USERS}`);
}
await ctx.close();
process.stderr.write(`\rseeded ${USERS} users in ${((performance.now() - seedStart) / 1000).toFixed(1)} s\n`);

// 3. Codes: one line per user, for the step that will be current during the run (valid +-1 step).
const step = Math.floor(Date.now() / 30_000) + (Date.now() % 30_000 > 15_000 ? 1 : 0);
const codesFile = join(dir, 'codes.txt');
const lines: string[] = [];
for (let i = 0; i < USERS; i++) lines.push(`${userName(i)} ${generateCode(secretOf(userName(i)), step, { algorithm: 'SHA1', digits: 6 })}`);
writeFileSync(codesFile, lines.join('\n') + '\n');

// 4. The server, pinned to core 0; ready time measured from spawn to the first 200 on /readyz.
if (CPU_PROF) mkdirSync(CPU_PROF, { recursive: true });
const serverArgs = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`, join(root, 'src/cli/main.ts'), 'serve'] : [cli, 'serve'];
const server = spawn('taskset', ['-c', '0', process.execPath, ...serverArgs], { env, stdio: ['ignore', 'ignore', 'inherit'] });
children.push(server);
const readyMs = await waitHttps(PORT, '/readyz', 10_000);
// taskset execs node, so the child's pid is the server's.
const serverPid = server.pid as number;

const cpuBefore = cpuTicks(serverPid);
const api = runWrk(PORT, join(root, 'bench/wrk-auth.lua'), { BENCH_CODES: codesFile, BENCH_THREADS: '1', BENCH_API_KEY: init.apiKey });
const cpuUsed = (cpuTicks(serverPid) - cpuBefore) / TICKS_PER_SECOND;
const apiRss = peakRssMb(serverPid);
// Waiting for the exit lets a CPU profile be written.
await new Promise<void>((resolve) => {
  server.once('exit', () => resolve());
  server.kill('SIGTERM');
});

// 5. The peer in the same run.
const bare = spawn('taskset', ['-c', '0', process.execPath, join(root, 'bench/bare-server.ts'), join(dir, 'tls/cert.pem'), join(dir, 'tls/key.pem'), String(BARE_PORT)], { stdio: ['ignore', 'ignore', 'inherit'] });
children.push(bare);
await waitHttps(BARE_PORT, '/nope', 10_000).catch(() => undefined);
await new Promise((r) => setTimeout(r, 300));
const barePid = bare.pid as number;
const bareCpuBefore = cpuTicks(barePid);
const peer = runWrk(BARE_PORT, join(root, 'bench/wrk-bare.lua'), {});
const bareCpu = (cpuTicks(barePid) - bareCpuBefore) / TICKS_PER_SECOND;
const bareRss = peakRssMb(barePid);
bare.kill('SIGTERM');

const row = (name: string, r: WrkResult, cpu: number, rss: number) =>
  `| ${name} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${((cpu / r.requests) * 1e6).toFixed(0)} | ${rss.toFixed(0)} |`;
console.log(`\nTOTP verification through the REST API: ${USERS} users, ${CONNECTIONS} connections, ${SECONDS} s, HTTPS keep-alive\n`);
console.log('| target | requests/s | p50 ms | p99 ms | server CPU us/req | peak RSS MB |');
console.log('|---|---|---|---|---|---|');
console.log(row('POST /api/v1/authentications', api, cpuUsed, apiRss));
console.log(row('bare Fastify route (peer)', peer, bareCpu, bareRss));
console.log(`\nratio to peer: ${(api.rps / peer.rps).toFixed(2)}x throughput, ready to serve ${readyMs.toFixed(0)} ms after spawn`);
console.log(`verifications: ${api.approved ?? '?'} approved, ${api.other ?? '?'} other${api.errors ? `; ${api.errors}` : ''}${peer.errors ? `; peer: ${peer.errors}` : ''}`);
if ((api.other ?? 0) > 0) console.log('note: "other" counts responses that were not approvals (a user reached twice in one step is denied as a replay).');
if (CPU_PROF) console.log(`\nCPU profile of the Countersign server: ${CPU_PROF}`);
