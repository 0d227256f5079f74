/** Real server processes started from the CLI, and a small HTTPS client for them. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const root = new URL('../..', import.meta.url).pathname;
export const cli = join(root, 'src/cli/main.ts');
export const agent = new Agent({ rejectUnauthorized: false, keepAlive: true, maxSockets: 64 });

const children: ChildProcess[] = [];
const dirs: string[] = [];

export function cleanup(): void {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function killServers(): void {
  for (const c of children.splice(0)) c.kill('SIGKILL');
}

/** `countersign init` in a new folder; returns the environment that points the CLI at it and the admin key. */
export function installation(extraEnv: Record<string, string> = {}): {
  dir: string;
  env: NodeJS.ProcessEnv;
  apiKey: string;
  cs: (...args: string[]) => string;
} {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-e2e-'));
  dirs.push(dir);
  const env = {
    ...process.env,
    COUNTERSIGN_CONFIG: join(dir, 'countersign.yaml'),
    COUNTERSIGN_SERVER_HOST: '127.0.0.1',
    COUNTERSIGN_LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  const init = JSON.parse(execFileSync(process.execPath, [cli, 'init', '--dir', dir, '--json'], { encoding: 'utf8', env })) as { apiKey: string };
  const cs = (...args: string[]) => execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', env });
  return { dir, env, apiKey: init.apiKey, cs };
}

export function serve(env: NodeJS.ProcessEnv, port: number): void {
  children.push(spawn(process.execPath, [cli, 'serve'], { env: { ...env, COUNTERSIGN_SERVER_PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] }));
}

export function post(port: number, path: string, key: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

export async function waitReady(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/readyz', agent }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.end();
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server on ${port} not ready`);
}

export function totp(secret: string): string {
  return execFileSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).trim();
}
