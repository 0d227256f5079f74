/**
 * A throw-away Caddy (the Debian package's /usr/bin/caddy) for forward-auth tests: `caddy run` in
 * the foreground with a Caddyfile in its own temp directory, on a free loopback high port, bound to
 * 127.0.0.1 only. No admin endpoint (`admin off`), no automatic HTTPS, no certificates, no
 * autosaved configuration; HOME and the XDG directories point into the temp dir, so Caddy writes
 * nothing outside it. Never touches /etc/caddy, /var/lib/caddy or port 80. Call stop() to end it
 * and remove the directory.
 *
 * The caller writes the site blocks; the harness puts the global options in front (see
 * caddyfile below). Site addresses are plain HTTP: `http://127.0.0.1:{{port}} { ... }`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from './ports.ts';

export const CADDY = '/usr/bin/caddy';

/** What a configuration function is given. */
export interface CaddyContext {
  /** A free loopback TCP port for the site: `http://127.0.0.1:${port}`. */
  port: number;
  /** The temp directory (for files a test wants Caddy to serve or write). */
  dir: string;
}

/**
 * The site blocks of the Caddyfile. A string may say `{{port}}` and `{{dir}}` where the port and
 * directory go; a function is given them.
 */
export type CaddyConfig = string | ((ctx: CaddyContext) => string);

export interface Caddy {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** The temp directory (removed by stop()). */
  dir: string;
  /** The Caddyfile as written (for a failing test's message). */
  caddyfile(): string;
  /** What Caddy has written to stdout and stderr so far (its log). */
  output(): string;
  stop(): Promise<void>;
}

/** True when Caddy can run here; under CI a missing binary fails the caller's suite instead. */
export function caddyAvailable(): boolean {
  const ok = existsSync(CADDY);
  if (!ok && process.env.CI) throw new Error(`caddy is required under CI: ${CADDY} not found (apt-get install caddy)`);
  if (!ok) console.warn(`\n*** SKIPPING caddy tests: ${CADDY} not found (apt-get install caddy) ***\n`);
  return ok;
}

/** The whole Caddyfile: global options that keep Caddy inside the temp dir and on loopback, then the sites. */
function caddyfile(dir: string, sites: string): string {
  return `# Generated for one test run.
{
\tadmin off
\tauto_https off
\tskip_install_trust
\tstorage file_system ${join(dir, 'data')}
\tdefault_bind 127.0.0.1
\tgrace_period 1s
\tlog {
\t\toutput stderr
\t\tlevel INFO
\t}
}

${sites}
`;
}

function render(config: CaddyConfig, ctx: CaddyContext): string {
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

export async function startCaddy(config: CaddyConfig): Promise<Caddy> {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-caddy-'));
  const path = join(dir, 'Caddyfile');
  // Caddy keeps its data (certificates, locks) under XDG_DATA_HOME and its autosaved configuration
  // under XDG_CONFIG_HOME, both defaulting to HOME: all of them are the temp dir.
  for (const d of ['home', 'data', 'config']) mkdirSync(join(dir, d));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: join(dir, 'home'), XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') };
  let child: ChildProcess | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      const ctx: CaddyContext = { port: await freeTcpPort(), dir };
      const text = caddyfile(dir, render(config, ctx));
      writeFileSync(path, text);

      let output = '';
      const proc = spawn(CADDY, ['run', '--config', path, '--adapter', 'caddyfile'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
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
          // SIGTERM: Caddy stops its servers (grace_period 1s) and exits.
          proc.kill('SIGTERM');
          const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
          await done;
          clearTimeout(timer);
        };
        return {
          port: ctx.port,
          url: `http://127.0.0.1:${ctx.port}`,
          dir,
          caddyfile: () => text,
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
      // Another process took the port between our check and Caddy binding it: try a new port.
      if (!/address already in use/i.test(output) || attempt >= 2) {
        throw new Error(`caddy did not start (exit ${String(proc.exitCode ?? proc.signalCode)}):\n${output.slice(-3000)}\n--- Caddyfile ---\n${text}`);
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

