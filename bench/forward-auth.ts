/**
 * Forward-auth decisions of the web gateway, in one run on this machine, with wrk:
 *
 *   1. nginx serving a small static file (the peer: what the proxy costs without a check);
 *   2. the same nginx with `auth_request` to Countersign's /gateway/auth in front of the same file,
 *      with a signed-in session cookie: every request is a decision;
 *   3. /gateway/auth called directly, with the cookie and X-Original-URL: decisions per second of
 *      one Countersign process, and its CPU time per decision.
 *
 *   node bench/forward-auth.ts     (env: BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_WARMUP_SECONDS,
 *                                   BENCH_CPU_PROF=<folder>)
 *
 * The session comes from the real sign-in through nginx (password, then a TOTP code from oathtool).
 * Before measuring, the harness checks that the cookie passes (200) and that no cookie does not
 * (302 through nginx, 401 directly), and aborts otherwise. Needs nginx, wrk, oathtool and taskset
 * (Debian: nginx, wrk, oathtool, util-linux). Countersign and nginx run on core 0, wrk on core 1.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createKeyFile } from '../src/store/keyring.ts';
import { TICKS_PER_SECOND, cpuTicks, peakRssMb } from './proc.ts';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const WARMUP_SECONDS = Number(process.env['BENCH_WARMUP_SECONDS'] ?? 3);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 64);
/** Connections of the latency pair: few enough that neither server is saturated, so p99 shows the check's own cost, not queueing. */
const LATENCY_CONNECTIONS = Number(process.env['BENCH_LATENCY_CONNECTIONS'] ?? 4);
/** The paced pair: each of LATENCY_CONNECTIONS connections waits this long before each request, so the servers' core is partly idle. */
const PACE_MS = Number(process.env['BENCH_PACE_MS'] ?? 1);
const THREADS = 2;
const CPU_PROF = process.env['BENCH_CPU_PROF'];
const CS_PORT = 18480;
const NGINX_PORT = 18481;
const NGINX = '/usr/sbin/nginx';
const USER = 'benchuser';
const PASSWORD = 'bench correct horse battery';
const ORIGIN = `http://127.0.0.1:${NGINX_PORT}`;
const FILE = '/index.html';
const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'bin/countersign');
const dir = mkdtempSync(join(tmpdir(), 'countersign-bench-'));
const children: ChildProcess[] = [];

function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);

function fail(message: string): never {
  console.error(`\nforward-auth bench aborted: ${message}`);
  process.exit(1);
}

// ---- HTTP client for the checks and the sign-in ---------------------------------------------------

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host: `127.0.0.1:${port}`, ...opts.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function waitHttp(port: number, path: string, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    const status = await send(port, path).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 10));
  }
  fail(`nothing answered 200 on port ${port}${path} within ${timeoutMs} ms`);
}

/** A browser-like client through nginx: keeps cookies, follows nothing. */
const cookies = new Map<string, string>();
async function browse(path: string, form?: Record<string, string>): Promise<Res> {
  const headers: Record<string, string> = {};
  if (cookies.size) headers['cookie'] = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const body = form ? new URLSearchParams(form).toString() : undefined;
  if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await send(NGINX_PORT, path, { method: form ? 'POST' : 'GET', headers, ...(body !== undefined ? { body } : {}) });
  const set = res.headers['set-cookie'] ?? [];
  for (const line of Array.isArray(set) ? set : [set]) {
    const pair = line.split(';')[0] ?? '';
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(eq + 1) === '' || /expires=Thu, 01 Jan 1970/i.test(line)) cookies.delete(pair.slice(0, eq));
    else cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return res;
}
const hidden = (html: string, name: string): string => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1]?.replace(/&amp;/g, '&') ?? '';

// ---- wrk ---------------------------------------------------------------------------------------

interface WrkResult {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  requests: number;
  passed: number;
  other: number;
  errors: string;
}

function ms(text: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

function runWrk(url: string, headers: string[], seconds: number, connections: number, paceMs?: number): WrkResult {
  const args = ['-c', '1', 'wrk', `-t${Math.min(THREADS, connections)}`, `-c${connections}`, `-d${seconds}s`, '--latency', '-s', join(root, 'bench/forward-auth-status.lua')];
  for (const h of headers) args.push('-H', h);
  const env = paceMs === undefined ? process.env : { ...process.env, BENCH_PACE_MS: String(paceMs) };
  const out = execFileSync('taskset', [...args, url], { encoding: 'utf8', maxBuffer: 1 << 20, env });
  const result = /RESULT passed=(\d+) other=(\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    requests: Number(/(\d+) requests in/.exec(out)?.[1]),
    p50: ms(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''),
    p90: ms(/\s90%\s+(\S+)/.exec(out)?.[1] ?? ''),
    p99: ms(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''),
    passed: Number(result?.[1] ?? NaN),
    other: Number(result?.[2] ?? NaN),
    errors: /Socket errors:.*/.exec(out)?.[0] ?? '',
  };
}

/** Every thread of a process and its children (nginx's workers), in CPU ticks. */
function treeTicks(pid: number): number {
  let total = cpuTicks(pid);
  let kids: number[] = [];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    kids = [];
  }
  for (const k of kids) total += treeTicks(k);
  return total;
}

interface Measured {
  wrk: WrkResult;
  /** CPU seconds of each watched process during the measured window. */
  cpu: Record<string, number>;
}

/** A warm-up run, then the measured one, reading the CPU time of the watched processes around it. */
function measure(url: string, headers: string[], watch: Record<string, number>, connections = CONNECTIONS, paceMs?: number): Measured {
  if (WARMUP_SECONDS > 0) runWrk(url, headers, WARMUP_SECONDS, connections, paceMs);
  const before = Object.fromEntries(Object.entries(watch).map(([k, pid]) => [k, treeTicks(pid)]));
  const wrk = runWrk(url, headers, SECONDS, connections, paceMs);
  const cpu = Object.fromEntries(Object.entries(watch).map(([k, pid]) => [k, (treeTicks(pid) - (before[k] ?? 0)) / TICKS_PER_SECOND]));
  return { wrk, cpu };
}

// ---- 1. A Countersign installation with the gateway on plain HTTP (loopback) ----------------------

execFileSync(process.execPath, [join(root, 'scripts/build.ts')], { stdio: 'inherit' });
const configFile = join(dir, 'countersign.yaml');
await createKeyFile(join(dir, 'countersign.key'));
writeFileSync(
  configFile,
  stringify({
    server: { host: '127.0.0.1', port: CS_PORT, plainHttp: true },
    database: { url: 'sqlite:./countersign.db' },
    keys: { file: './countersign.key' },
    log: { level: 'warn' },
    rateLimit: { perAddressPerMinute: 100_000_000 },
    gateway: {
      enabled: true,
      proxies: ['127.0.0.1'],
      sites: [{ name: 'static', origins: [ORIGIN], cacheSeconds: 604_800 }],
    },
  }),
);
const env = { ...process.env, COUNTERSIGN_CONFIG: configFile };
const countersign = (args: string[], input?: string): string => execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', env, ...(input !== undefined ? { input } : {}) });
countersign(['user', 'add', USER, '--email', 'bench@example.com']);
countersign(['user', 'password', USER, '--stdin'], `${PASSWORD}\n`);
const token = JSON.parse(countersign(['--json', 'token', 'add', USER])) as { secret?: string; token?: { secret?: string } };
const secret = token.secret ?? token.token?.secret;
if (!secret) fail(`no secret in the output of "countersign token add --json": ${JSON.stringify(token)}`);

// ---- 2. nginx: the static file, and the same file behind auth_request --------------------------

const www = join(dir, 'www');
mkdirSync(www);
writeFileSync(join(www, 'index.html'), `<!doctype html><html><head><title>bench</title></head><body>${'<p>Protected page.</p>'.repeat(20)}</body></html>\n`);
const nginxDir = join(dir, 'nginx');
mkdirSync(nginxDir);
const p = (name: string): string => join(nginxDir, name);
writeFileSync(
  p('nginx.conf'),
  `${process.getuid?.() === 0 ? 'user root;\n' : ''}daemon off;
worker_processes 1;
pid ${p('nginx.pid')};
error_log ${p('error.log')} warn;
events { worker_connections 4096; }
http {
  default_type text/html;
  access_log off;
  server_tokens off;
  client_body_temp_path ${p('client_body')};
  proxy_temp_path ${p('proxy')};
  fastcgi_temp_path ${p('fastcgi')};
  uwsgi_temp_path ${p('uwsgi')};
  scgi_temp_path ${p('scgi')};
  keepalive_requests 1000000;
  upstream countersign {
    server 127.0.0.1:${CS_PORT};
    keepalive 64;
  }
  # 1. The peer: the file, no check.
  server {
    listen 127.0.0.1:${NGINX_PORT + 1};
    root ${www};
  }
  # 2. The same file behind Countersign.
  server {
    listen 127.0.0.1:${NGINX_PORT};
    root ${www};
    location /gateway/ {
      proxy_pass http://countersign;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
    location = /_countersign {
      internal;
      proxy_pass http://countersign/gateway/auth;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
    location / {
      auth_request /_countersign;
      auth_request_set $cs_user $upstream_http_remote_user;
      auth_request_set $cs_signin $upstream_http_location;
      error_page 401 =302 $cs_signin;
      add_header X-Remote-User $cs_user;
    }
  }
}
`,
);
const nginx = spawn('taskset', ['-c', '0', NGINX, '-p', `${nginxDir}/`, '-c', p('nginx.conf'), '-e', p('error.log')], { stdio: ['ignore', 'ignore', 'inherit'] });
children.push(nginx);

// ---- 3. Countersign, pinned to core 0 ------------------------------------------------------------

const serveArgs = CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF, join(root, 'src/cli/main.ts'), 'serve'] : [cli, 'serve'];
const server = spawn('taskset', ['-c', '0', process.execPath, ...serveArgs], { env, stdio: ['ignore', 'ignore', 'inherit'] });
children.push(server);
const readyMs = await waitHttp(CS_PORT, '/readyz', 15_000);
await waitHttp(NGINX_PORT + 1, FILE, 10_000);
// taskset execs its command, so the children's pids are the servers'.
const serverPid = server.pid as number;
const nginxPid = nginx.pid as number;

// ---- 4. The real sign-in through nginx: password, then a TOTP code --------------------------------

const first = await browse(FILE);
if (first.status !== 302) fail(`a request without a session got ${first.status}, not 302 to the sign-in page`);
const signInUrl = String(first.headers.location);
if (!signInUrl.startsWith(`${ORIGIN}/gateway/sign-in?`)) fail(`unexpected sign-in address ${signInUrl}`);
const form = await browse(signInUrl.slice(ORIGIN.length));
const verify = await browse('/gateway/sign-in', { _csrf: hidden(form.body, '_csrf'), rd: hidden(form.body, 'rd'), username: USER, password: PASSWORD });
if (verify.status !== 200 || !verify.body.includes('name="code"')) fail(`the password step answered ${verify.status} without a code form`);
const code = execFileSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).trim();
const back = await browse('/gateway/verify', { _csrf: hidden(verify.body, '_csrf'), code });
if (back.status !== 303 || back.headers.location !== `${ORIGIN}${FILE}`) fail(`the code step answered ${back.status} (location ${String(back.headers.location)})`);
const sessionCookie = cookies.get('__Host-cs_gateway');
if (!sessionCookie) fail('no __Host-cs_gateway cookie after the sign-in');
const cookieHeader = `Cookie: __Host-cs_gateway=${sessionCookie}`;
const directHeaders = [cookieHeader, `X-Original-URL: ${ORIGIN}${FILE}`, 'X-Forwarded-For: 127.0.0.1'];

// ---- 5. Checks: the numbers must be about real decisions ------------------------------------------

const withCookie = await send(NGINX_PORT, FILE, { headers: { cookie: `__Host-cs_gateway=${sessionCookie}` } });
if (withCookie.status !== 200 || withCookie.headers['x-remote-user'] !== USER || !withCookie.body.includes('Protected page.')) {
  fail(`through nginx with the cookie: ${withCookie.status}, Remote-User "${String(withCookie.headers['x-remote-user'])}"`);
}
const without = await send(NGINX_PORT, FILE);
if (without.status !== 302 && without.status !== 401) fail(`through nginx without the cookie: ${without.status}`);
const forged = await send(NGINX_PORT, FILE, { headers: { cookie: `__Host-cs_gateway=${'A'.repeat(sessionCookie.length)}` } });
if (forged.status !== 302 && forged.status !== 401) fail(`through nginx with a forged cookie: ${forged.status}`);
const directOk = await send(CS_PORT, '/gateway/auth', { headers: { cookie: `__Host-cs_gateway=${sessionCookie}`, 'x-original-url': `${ORIGIN}${FILE}`, 'x-forwarded-for': '127.0.0.1' } });
if (directOk.status !== 200 || directOk.headers['remote-user'] !== USER) fail(`/gateway/auth with the cookie: ${directOk.status}`);
const directNo = await send(CS_PORT, '/gateway/auth', { headers: { 'x-original-url': `${ORIGIN}${FILE}`, 'x-forwarded-for': '127.0.0.1' } });
if (directNo.status !== 401) fail(`/gateway/auth without the cookie: ${directNo.status}`);
const peerOk = await send(NGINX_PORT + 1, FILE);
if (peerOk.status !== 200 || peerOk.body !== withCookie.body) fail('the peer does not serve the same file');
console.error(`checks: with the cookie 200 (Remote-User ${USER}); without it ${without.status} through nginx, ${directNo.status} directly; forged ${forged.status}`);

// ---- 6. Measure --------------------------------------------------------------------------------

const bare = measure(`http://127.0.0.1:${NGINX_PORT + 1}${FILE}`, [], { nginx: nginxPid });
const gated = measure(`${ORIGIN}${FILE}`, [cookieHeader], { nginx: nginxPid, countersign: serverPid });
const direct = measure(`http://127.0.0.1:${CS_PORT}/gateway/auth`, directHeaders, { countersign: serverPid });
const bareLight = measure(`http://127.0.0.1:${NGINX_PORT + 1}${FILE}`, [], { nginx: nginxPid }, LATENCY_CONNECTIONS);
const gatedLight = measure(`${ORIGIN}${FILE}`, [cookieHeader], { nginx: nginxPid, countersign: serverPid }, LATENCY_CONNECTIONS);
const directLight = measure(`http://127.0.0.1:${CS_PORT}/gateway/auth`, directHeaders, { countersign: serverPid }, LATENCY_CONNECTIONS);
const barePaced = measure(`http://127.0.0.1:${NGINX_PORT + 1}${FILE}`, [], { nginx: nginxPid }, LATENCY_CONNECTIONS, PACE_MS);
const gatedPaced = measure(`${ORIGIN}${FILE}`, [cookieHeader], { nginx: nginxPid, countersign: serverPid }, LATENCY_CONNECTIONS, PACE_MS);
const rss = peakRssMb(serverPid);
server.kill('SIGTERM');
nginx.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));

// The machine's own tail: a bare Node.js HTTP server on the same core, answering what a decision answers.
const FLOOR_PORT = NGINX_PORT + 2;
const floorServer = spawn('taskset', ['-c', '0', process.execPath, join(root, 'bench/forward-auth-bare.ts'), String(FLOOR_PORT)], { stdio: ['ignore', 'pipe', 'inherit'] });
children.push(floorServer);
await new Promise<void>((resolve, reject) => {
  floorServer.stdout?.once('data', () => resolve());
  floorServer.once('exit', (code) => reject(new Error(`the bare server exited (${String(code)})`)));
});
const floor = measure(`http://127.0.0.1:${FLOOR_PORT}/`, [], { bare: floorServer.pid as number }, LATENCY_CONNECTIONS);
floorServer.kill('SIGTERM');

for (const [name, m] of [['nginx static', bare], ['nginx + auth_request', gated], ['/gateway/auth direct', direct], ['nginx static, few connections', bareLight], ['nginx + auth_request, few connections', gatedLight], ['/gateway/auth direct, few connections', directLight], ['nginx static, paced', barePaced], ['nginx + auth_request, paced', gatedPaced], ['bare Node.js server', floor]] as const) {
  if (m.wrk.other !== 0 || !(m.wrk.passed > 0)) fail(`${name}: ${m.wrk.passed} answers 200, ${m.wrk.other} other ${m.wrk.errors}`);
}

// ---- 7. Report ---------------------------------------------------------------------------------

const us = (cpu: number | undefined, n: number): string => (cpu === undefined ? '-' : ((cpu / n) * 1e6).toFixed(0));
const row = (name: string, m: Measured) =>
  `| ${name} | ${m.wrk.rps.toFixed(0)} | ${m.wrk.p50.toFixed(2)} | ${m.wrk.p90.toFixed(2)} | ${m.wrk.p99.toFixed(2)} | ${us(m.cpu['nginx'], m.wrk.requests)} | ${us(m.cpu['countersign'] ?? m.cpu['bare'], m.wrk.requests)} |`;
console.log(`\nForward-auth decisions: ${CONNECTIONS} connections, ${THREADS} wrk threads, ${SECONDS} s per case (after ${WARMUP_SECONDS} s warm-up), HTTP keep-alive`);
console.log('Countersign and nginx (1 worker) on core 0, wrk on core 1; every gated request carries a signed-in session cookie\n');
console.log('| case | requests/s | p50 ms | p90 ms | p99 ms | nginx CPU us/req | Countersign (or bare server) CPU us/req |');
console.log('|---|---|---|---|---|---|---|');
console.log(row('1. nginx static file (peer)', bare));
console.log(row('2. nginx + auth_request to /gateway/auth', gated));
console.log(row('3. /gateway/auth direct', direct));
console.log(row(`1b. nginx static file, ${LATENCY_CONNECTIONS} connections`, bareLight));
console.log(row(`2b. nginx + auth_request, ${LATENCY_CONNECTIONS} connections`, gatedLight));
console.log(row(`3b. /gateway/auth direct, ${LATENCY_CONNECTIONS} connections`, directLight));
console.log(row(`1c. nginx static file, ${LATENCY_CONNECTIONS} connections paced ${PACE_MS} ms`, barePaced));
console.log(row(`2c. nginx + auth_request, ${LATENCY_CONNECTIONS} connections paced ${PACE_MS} ms`, gatedPaced));
console.log(row(`0. bare Node.js HTTP server (the machine's floor), ${LATENCY_CONNECTIONS} connections`, floor));
// The check's own latency: with few connections neither server queues requests.
const addedP99 = gatedLight.wrk.p99 - bareLight.wrk.p99;
const addedP99Saturated = gated.wrk.p99 - bare.wrk.p99;
const ratio = gated.wrk.rps / bare.wrk.rps;
const decisions = direct.wrk.rps;
const cpuPerDecision = ((direct.cpu['countersign'] ?? NaN) / direct.wrk.requests) * 1e6;
console.log(`\ndecisions/s (case 3, one process): ${decisions.toFixed(0)}; Countersign CPU per decision ${cpuPerDecision.toFixed(0)} us (ceiling ${(1e6 / cpuPerDecision).toFixed(0)}/s of one core)`);
console.log(`added p99 at ${LATENCY_CONNECTIONS} connections (case 2b - case 1b): ${addedP99.toFixed(2)} ms; at ${CONNECTIONS} connections (saturated, queueing included): ${addedP99Saturated.toFixed(2)} ms`);
console.log(`added p50 / p90 at ${LATENCY_CONNECTIONS} connections: ${(gatedLight.wrk.p50 - bareLight.wrk.p50).toFixed(2)} / ${(gatedLight.wrk.p90 - bareLight.wrk.p90).toFixed(2)} ms; a bare Node.js server's own p99 here: ${floor.wrk.p99.toFixed(2)} ms (p50 ${floor.wrk.p50.toFixed(2)} ms)`);
const core0 = (m: Measured): number => ((m.cpu['nginx'] ?? 0) + (m.cpu['countersign'] ?? 0)) / SECONDS;
const addedP99Paced = gatedPaced.wrk.p99 - barePaced.wrk.p99;
console.log(
  `added p99 paced (case 2c - case 1c, ${gatedPaced.wrk.rps.toFixed(0)} requests/s, core 0 ${(core0(gatedPaced) * 100).toFixed(0)}% busy): ${addedP99Paced.toFixed(2)} ms; p50 / p90 ${(gatedPaced.wrk.p50 - barePaced.wrk.p50).toFixed(2)} / ${(gatedPaced.wrk.p90 - barePaced.wrk.p90).toFixed(2)} ms`,
);
console.log(`throughput ratio case 2 / case 1: ${ratio.toFixed(3)}`);
console.log(`Countersign ready ${readyMs.toFixed(0)} ms after spawn; peak RSS ${rss.toFixed(0)} MB`);
console.log(`goal: added p99 <= 1 ms: ${addedP99 <= 1 ? 'PASS' : 'MISS'} at ${LATENCY_CONNECTIONS} connections unpaced (${addedP99.toFixed(2)} ms); ${addedP99Paced <= 1 ? 'PASS' : 'MISS'} paced (${addedP99Paced.toFixed(2)} ms)`);
console.log(`goal: >= 10,000 decisions/s per process: ${decisions >= 10_000 ? 'PASS' : 'MISS'} (${decisions.toFixed(0)}/s)`);
const errs = [bare, gated, direct, bareLight, gatedLight, directLight, barePaced, gatedPaced, floor].map((m) => m.wrk.errors).filter(Boolean);
if (errs.length) console.log(`wrk: ${errs.join('; ')}`);
if (CPU_PROF) console.log(`CPU profile of the Countersign server in ${CPU_PROF}`);
