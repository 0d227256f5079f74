/** Runs the real `countersign` CLI as a child process (Node 24 = the test's own node). */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd: string;
  readonly env?: Record<string, string | undefined>;
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** The environment without any COUNTERSIGN_* setting of the caller, plus `extra`. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('COUNTERSIGN_')) env[k] = v;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function run(args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: opts.cwd, env: cleanEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`countersign ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs and expects exit status 0; returns stdout. */
export async function ok(args: readonly string[], opts: RunOptions): Promise<string> {
  const r = await run(args, opts);
  if (r.code !== 0) throw new Error(`countersign ${args.join(' ')} exited ${String(r.code)}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

/** Runs with --json and parses stdout. */
export async function json<T = Record<string, unknown>>(args: readonly string[], opts: RunOptions): Promise<T> {
  return JSON.parse(await ok([...args, '--json'], opts)) as T;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `countersign-${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** An installation made by `countersign init` in a new temp folder. */
export async function installation(prefix: string, env: Record<string, string> = {}): Promise<{ dir: string; apiKey: string; env: Record<string, string> }> {
  const dir = await tempDir(prefix);
  const init = await json<{ apiKey: string }>(['init'], { cwd: dir, env });
  return { dir, apiKey: init.apiKey, env };
}

/** A TOTP code from oathtool, the independent generator. `offsetSeconds` shifts the time. */
export function oathtool(secret: string, offsetSeconds = 0): string {
  const args = ['--totp', '-b', secret];
  if (offsetSeconds !== 0) args.push('--now', `${offsetSeconds > 0 ? '+' : ''}${offsetSeconds} seconds`);
  return execFileSync('oathtool', args, { encoding: 'utf8' }).trim();
}

/** A six-digit code that oathtool says is not valid anywhere near now (+-5 minutes). */
export function wrongCode(secret: string): string {
  const near = new Set(execFileSync('oathtool', ['--totp', '-b', secret, '--now', '-300 seconds', '-w', '20'], { encoding: 'utf8' }).trim().split('\n'));
  for (let n = 0; ; n++) {
    const candidate = String((n * 111_111 + 123_457) % 1_000_000).padStart(6, '0');
    if (!near.has(candidate)) return candidate;
  }
}
