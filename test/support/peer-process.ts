/**
 * Starting a throw-away server the tests configure with one file (Caddy, HAProxy): a free loopback
 * port, the configuration written for it, the binary in the foreground, ready once the port
 * accepts connections; a new port when another process took it meanwhile; its output kept for the
 * error message; stop() ends it and removes its temp directory. A test run that dies leaves none
 * behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { canConnect, freeTcpPort, waitUntil } from './ports.ts';

export interface PeerContext {
  /** A free loopback TCP port for the server. */
  port: number;
  /** The server's temp directory. */
  dir: string;
}

/** A configuration: text that may say `{{port}}` and `{{dir}}`, or a function given them. */
export type PeerConfig = string | ((ctx: PeerContext) => string);

export function renderConfig(config: PeerConfig, ctx: PeerContext): string {
  if (typeof config === 'function') return config(ctx);
  return config.replaceAll('{{port}}', String(ctx.port)).replaceAll('{{dir}}', ctx.dir);
}

export interface PeerSpec {
  /** For messages: `caddy`. */
  readonly name: string;
  /** The server's temp directory (already made; removed on failure and by stop()). */
  readonly dir: string;
  /** Where the configuration file goes, and what to call it in messages. */
  readonly configPath: string;
  readonly configName: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** The whole configuration file for a context. */
  readonly configure: (ctx: PeerContext) => string;
  /** Output saying the port was taken meanwhile (a new port is then tried, twice at most). */
  readonly portTaken: RegExp;
}

export interface PeerProcess {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  dir: string;
  /** The configuration as written (for a failing test's message). */
  config(): string;
  /** What the server has written to stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export async function startConfiguredPeer(spec: PeerSpec): Promise<PeerProcess> {
  let child: ChildProcess | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      const ctx: PeerContext = { port: await freeTcpPort(), dir: spec.dir };
      const text = spec.configure(ctx);
      writeFileSync(spec.configPath, text);

      let output = '';
      const proc = spawn(spec.command, [...spec.args], { cwd: spec.dir, env: spec.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      running.add(proc);
      proc.once('exit', () => running.delete(proc));
      proc.stdout?.on('data', (d: Buffer) => (output += d.toString('utf8')));
      proc.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));
      const exited = (): boolean => proc.exitCode !== null || proc.signalCode !== null;
      const killWith = async (signal: NodeJS.Signals): Promise<void> => {
        if (exited()) return;
        const done = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill(signal);
        const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await done;
        clearTimeout(timer);
      };

      const up = await waitUntil(() => canConnect(ctx.port), 10_000, exited);
      if (up && !exited()) {
        return {
          port: ctx.port,
          url: `http://127.0.0.1:${ctx.port}`,
          dir: spec.dir,
          config: () => text,
          output: () => output,
          stop: async () => {
            await killWith('SIGTERM');
            rmSync(spec.dir, { recursive: true, force: true });
          },
        };
      }
      await killWith('SIGKILL');
      if (!spec.portTaken.test(output) || attempt >= 2) {
        throw new Error(`${spec.name} did not start (exit ${String(proc.exitCode ?? proc.signalCode)}):\n${output.slice(-3000)}\n--- ${spec.configName} ---\n${text}`);
      }
    }
  } catch (err) {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(spec.dir, { recursive: true, force: true });
    throw err;
  }
}
