/**
 * A throw-away HAProxy (the Debian package's /usr/sbin/haproxy) for forward-auth tests: `haproxy -f
 * cfg -db` in the foreground with its configuration, pid file and stats socket in its own temp
 * directory, on a free loopback high port. No chroot, no user switch, no daemon, no master process;
 * never touches /etc/haproxy, /run/haproxy or port 80. Call stop() to end it and remove the
 * directory.
 *
 * The caller writes the configuration (its own `global` lines, `defaults`, frontends and backends,
 * binding `127.0.0.1:{{port}}`); the harness puts a `global` section in front that keeps HAProxy's
 * files in the temp dir (HAProxy merges several `global` sections).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from './ports.ts';

export const HAPROXY = '/usr/sbin/haproxy';

/** What a configuration function is given. */
export interface HaproxyContext {
  /** A free loopback TCP port for the frontend: `bind 127.0.0.1:${port}`. */
  port: number;
  /** The temp directory (for files a test wants HAProxy to read). */
  dir: string;
}

/**
 * The configuration after the harness's `global` section. A string may say `{{port}}` and
 * `{{dir}}` where the port and directory go; a function is given them.
 */
export type HaproxyConfig = string | ((ctx: HaproxyContext) => string);

export interface Haproxy {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** The temp directory (removed by stop()). */
  dir: string;
  /** The configuration as written (for a failing test's message). */
  config(): string;
  /** What HAProxy has written to stdout and stderr so far (alerts, warnings, Lua messages). */
  output(): string;
  stop(): Promise<void>;
}

/** True when HAProxy can run here; under CI a missing binary fails the caller's suite instead. */
export function haproxyAvailable(): boolean {
  const ok = existsSync(HAPROXY);
  if (!ok && process.env.CI) throw new Error(`haproxy is required under CI: ${HAPROXY} not found (apt-get install haproxy)`);
  if (!ok) console.warn(`\n*** SKIPPING haproxy tests: ${HAPROXY} not found (apt-get install haproxy) ***\n`);
  return ok;
}

/** The whole configuration: a global section that keeps HAProxy's files in the temp dir, then the caller's. */
function haproxyCfg(dir: string, body: string): string {
  return `# Generated for one test run.
global
    pidfile ${join(dir, 'haproxy.pid')}
    stats socket ${join(dir, 'admin.sock')} mode 600 level admin

${body}
`;
}

function render(config: HaproxyConfig, ctx: HaproxyContext): string {
  if (typeof config === 'function') return config(ctx);
  return config.replaceAll('{{port}}', String(ctx.port)).replaceAll('{{dir}}', ctx.dir);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

// A test run that dies must not leave servers behind.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export async function startHaproxy(config: HaproxyConfig): Promise<Haproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-haproxy-'));
  const path = join(dir, 'haproxy.cfg');
  let child: ChildProcess | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      const ctx: HaproxyContext = { port: await freeTcpPort(), dir };
      const text = haproxyCfg(dir, render(config, ctx));
      writeFileSync(path, text);

      let output = '';
      const proc = spawn(HAPROXY, ['-f', path, '-db'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      running.add(proc);
      proc.once('exit', () => running.delete(proc));
      proc.stdout?.on('data', (d: Buffer) => (output += d.toString('utf8')));
      proc.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));
      const exited = (): boolean => proc.exitCode !== null || proc.signalCode !== null;

      const up = await waitUntil(() => canConnect(ctx.port), 10_000, exited);
      if (up && !exited()) {
        const kill = async (): Promise<void> => {
          if (exited()) return;
          const done = new Promise<void>((r) => proc.once('exit', () => r()));
          // SIGTERM: HAProxy's hard stop, connections closed at once.
          proc.kill('SIGTERM');
          const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
          await done;
          clearTimeout(timer);
        };
        return {
          port: ctx.port,
          url: `http://127.0.0.1:${ctx.port}`,
          dir,
          config: () => text,
          output: () => output,
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
      // Another process took the port between our check and HAProxy binding it: try a new port.
      if (!/cannot bind socket|address already in use/i.test(output) || attempt >= 2) {
        throw new Error(`haproxy did not start (exit ${String(proc.exitCode ?? proc.signalCode)}):\n${output.slice(-3000)}\n--- haproxy.cfg ---\n${text}`);
      }
    }
  } catch (err) {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function waitUntil(ready: () => Promise<boolean>, ms: number, gaveUp: () => boolean): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (gaveUp()) return false;
    if (await ready()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}
