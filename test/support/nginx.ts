/**
 * A throw-away nginx (the Debian package's /usr/sbin/nginx) for forward-auth tests: its own temp
 * prefix directory holding the configuration, pid file, logs and every temp path, in the foreground
 * (`daemon off`) on free loopback high ports. Runs as the current user: as root the workers run as
 * root too (`user root`; the temp dir is 0700), otherwise there is no `user` directive at all.
 * Never touches /etc/nginx, /var/lib/nginx, /var/log/nginx or port 80. Call stop() to end it and
 * remove the directory.
 *
 * The caller writes the body of `http { }` (server blocks, upstreams, maps); the harness wraps it
 * in the main context, `events { }` and the common http settings (see nginxConf below).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, freeTcpPort, waitUntil } from './ports.ts';

export const NGINX = '/usr/sbin/nginx';

/** What a configuration function is given. */
export interface NginxContext {
  /** The first of `ports`: `listen 127.0.0.1:${port};`. */
  port: number;
  /** Free loopback TCP ports, as many as `NginxOptions.ports` (default 1). */
  ports: number[];
  /** The temp prefix directory (for files a test wants nginx to serve or write). */
  dir: string;
}

/**
 * The body of `http { }`. A string may say `{{port}}` and `{{dir}}` where the port and directory go;
 * a function is given them (and further ports).
 */
export type NginxConfig = string | ((ctx: NginxContext) => string);

export interface NginxOptions {
  /** Free loopback ports to reserve (default 1); the harness waits until all of them answer. */
  ports?: number;
  /** `master_process on` (default) or off (a single process; reload() then refuses). */
  masterProcess?: boolean;
  /** worker_processes (default 1). */
  workers?: number;
  /** error_log level (default `notice`; `debug` works, the Debian binary is built --with-debug). */
  errorLogLevel?: 'debug' | 'info' | 'notice' | 'warn' | 'error';
}

export interface Nginx {
  /** 127.0.0.1's first port. */
  port: number;
  ports: number[];
  /** http://127.0.0.1:<port> */
  url: string;
  /** The temp prefix directory (removed by stop()). */
  dir: string;
  /** The main configuration file as written (for a failing test's message). */
  conf(): string;
  /** nginx's error log so far. */
  errorLog(): string;
  /** The access log so far (combined format plus the upstream status and request time). */
  accessLog(): string;
  /**
   * Writes a new http body (same ports and directory), checks it with `nginx -t` (throwing with
   * nginx's message when it is invalid) and reloads: resolves once the old workers have exited.
   */
  reload(config: NginxConfig): Promise<void>;
  stop(): Promise<void>;
}

/** True when nginx can run here; under CI a missing binary fails the caller's suite instead. */
export function nginxAvailable(): boolean {
  const ok = existsSync(NGINX);
  if (!ok && process.env.CI) throw new Error(`nginx is required under CI: ${NGINX} not found (apt-get install nginx)`);
  if (!ok) console.warn(`\n*** SKIPPING nginx tests: ${NGINX} not found (apt-get install nginx) ***\n`);
  return ok;
}

interface Layout {
  dir: string;
  httpBody: string;
  masterProcess: boolean;
  workers: number;
  errorLogLevel: string;
}

/** The whole nginx.conf: everything nginx would otherwise put under /var or /run points into dir. */
function nginxConf(l: Layout): string {
  const root = process.getuid?.() === 0;
  const p = (name: string): string => join(l.dir, name);
  return `# Generated for one test run.
${root ? '# Workers run as root like the master: the temp dir is readable by its owner only.\nuser root;\n' : ''}daemon off;
master_process ${l.masterProcess ? 'on' : 'off'};
worker_processes ${l.workers};
pid ${p('nginx.pid')};
lock_file ${p('nginx.lock')};
error_log ${p('error.log')} ${l.errorLogLevel};

events {
  worker_connections 1024;
}

http {
  default_type application/octet-stream;
  types {
    text/html html;
    text/plain txt;
    application/json json;
  }
  client_body_temp_path ${p('client_body')};
  proxy_temp_path ${p('proxy')};
  fastcgi_temp_path ${p('fastcgi')};
  uwsgi_temp_path ${p('uwsgi')};
  scgi_temp_path ${p('scgi')};
  log_format test '$remote_addr "$request" $status $body_bytes_sent upstream=$upstream_status rt=$request_time';
  access_log ${p('access.log')} test;
  server_tokens off;
  keepalive_timeout 5s;

${l.httpBody}
}
`;
}

function render(config: NginxConfig, ctx: NginxContext): string {
  if (typeof config === 'function') return config(ctx);
  return config.replaceAll('{{port}}', String(ctx.port)).replaceAll('{{dir}}', ctx.dir);
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}


/** The direct children of a process (nginx's workers), from /proc. */
function childPids(pid: number): number[] {
  return readOr(`/proc/${pid}/task/${pid}/children`).split(/\s+/).filter(Boolean).map(Number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// A test run that dies must not leave servers behind: the master's fast shutdown ends its workers.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGTERM');
});

export async function startNginx(config: NginxConfig, options: NginxOptions = {}): Promise<Nginx> {
  const masterProcess = options.masterProcess ?? true;
  const workers = options.workers ?? 1;
  const errorLogLevel = options.errorLogLevel ?? 'notice';
  const dir = mkdtempSync(join(tmpdir(), 'countersign-nginx-'));
  const confPath = join(dir, 'nginx.conf');
  const errorLogPath = join(dir, 'error.log');
  // -p: the prefix for relative paths; -e: the error log before the configuration is read (the
  // compiled-in one is stderr on Debian, but an explicit one keeps everything in one file).
  const baseArgs = ['-p', `${dir}/`, '-c', confPath, '-e', errorLogPath];
  let child: ChildProcess | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      const ports: number[] = [];
      while (ports.length < (options.ports ?? 1)) {
        const port = await freeTcpPort();
        if (!ports.includes(port)) ports.push(port);
      }
      const ctx: NginxContext = { port: ports[0] as number, ports, dir };
      const write = (c: NginxConfig): string => {
        const text = nginxConf({ dir, httpBody: render(c, ctx), masterProcess, workers, errorLogLevel });
        writeFileSync(confPath, text);
        return text;
      };
      let confText = write(config);
      writeFileSync(errorLogPath, '');

      let output = '';
      const proc = spawn(NGINX, baseArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      running.add(proc);
      proc.once('exit', () => running.delete(proc));
      proc.stdout?.on('data', (d: Buffer) => (output += d.toString('utf8')));
      proc.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));
      const exited = (): boolean => proc.exitCode !== null || proc.signalCode !== null;

      const up = await waitUntil(async () => (await Promise.all(ports.map(canConnect))).every(Boolean), 10_000, exited);
      if (up && !exited()) {
        const master = proc;
        const kill = async (): Promise<void> => {
          if (exited()) return;
          const workerPids = childPids(master.pid ?? 0);
          const done = new Promise<void>((r) => master.once('exit', () => r()));
          // SIGTERM: fast shutdown, the master ends its workers and removes the pid file.
          master.kill('SIGTERM');
          const timer = setTimeout(() => {
            master.kill('SIGKILL');
            for (const w of workerPids) if (alive(w)) process.kill(w, 'SIGKILL');
          }, 3000);
          await done;
          clearTimeout(timer);
        };
        return {
          port: ctx.port,
          ports,
          url: `http://127.0.0.1:${ctx.port}`,
          dir,
          conf: () => confText,
          errorLog: () => readOr(errorLogPath),
          accessLog: () => readOr(join(dir, 'access.log')),
          reload: async (next) => {
            if (!masterProcess) throw new Error('nginx reload needs master_process on');
            if (exited()) throw new Error(`nginx is not running:\n${readOr(errorLogPath).slice(-3000)}`);
            const previous = confText;
            confText = write(next);
            const check = await nginxTest(baseArgs);
            if (!check.ok) {
              writeFileSync(confPath, previous);
              confText = previous;
              throw new Error(`nginx refused the new configuration:\n${check.output}\n--- nginx.conf ---\n${render(next, ctx)}`);
            }
            const pid = master.pid ?? 0;
            const old = childPids(pid);
            const logFrom = readOr(errorLogPath).length;
            master.kill('SIGHUP');
            // Done when the old workers have exited and new ones run. Without /proc/<pid>/task/<pid>/children
            // (a kernel without CONFIG_PROC_CHILDREN) the notice-level log lines say the same.
            const viaProc = existsSync(`/proc/${pid}/task/${pid}/children`);
            const reloaded = await waitUntil(
              async () => {
                if (!viaProc) {
                  const log = readOr(errorLogPath).slice(logFrom);
                  return (log.match(/start worker process \d+/g) ?? []).length >= workers && /worker process \d+ exited/.test(log);
                }
                const now = childPids(pid);
                return old.every((w) => !now.includes(w) && !alive(w)) && now.length >= workers;
              },
              10_000,
              exited,
            );
            if (!reloaded) throw new Error(`nginx did not reload:\n${readOr(errorLogPath).slice(-3000)}`);
          },
          stop: async () => {
            await kill();
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
      if (!exited()) {
        const done = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill('SIGKILL');
        await done;
      }
      const log = readOr(errorLogPath) + output;
      // Another process took a port between our check and nginx binding it: try new ports.
      if (!/Address already in use/.test(log) || attempt >= 2) {
        throw new Error(`nginx did not start (exit ${String(proc.exitCode ?? proc.signalCode)}):\n${log.slice(-3000)}\n--- nginx.conf ---\n${confText}`);
      }
    }
  } catch (err) {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** `nginx -t` on the configuration in place: its verdict and what it said. */
function nginxTest(baseArgs: string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(NGINX, [...baseArgs, '-t', '-q'], (err, stdout, stderr) => resolve({ ok: !err, output: `${stdout}${stderr}` }));
  });
}

