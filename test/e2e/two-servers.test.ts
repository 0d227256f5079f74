/**
 * Many parallel requests with the same TOTP code, spread over two server processes sharing one
 * database (SQLite file, then PostgreSQL): exactly one is approved.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const cli = join(root, 'src/cli/main.ts');
const agent = new Agent({ rejectUnauthorized: false, keepAlive: true, maxSockets: 64 });
const children: ChildProcess[] = [];
const dirs: string[] = [];
const PG_BASE = process.env['COUNTERSIGN_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  agent.destroy();
});

function post(port: number, path: string, key: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', agent, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
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

async function waitReady(port: number): Promise<void> {
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

async function race(databaseUrl: string | null, ports: [number, number]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-2srv-'));
  dirs.push(dir);
  const env = { ...process.env, COUNTERSIGN_CONFIG: join(dir, 'countersign.yaml'), COUNTERSIGN_SERVER_HOST: '127.0.0.1', COUNTERSIGN_LOG_LEVEL: 'warn', ...(databaseUrl ? { COUNTERSIGN_DATABASE_URL: databaseUrl } : {}) };
  const init = JSON.parse(execFileSync(process.execPath, [cli, 'init', '--dir', dir, '--json'], { encoding: 'utf8', env })) as { apiKey: string };
  execFileSync(process.execPath, [cli, 'user', 'add', 'racer'], { env });
  const token = JSON.parse(execFileSync(process.execPath, [cli, 'token', 'add', 'racer', '--json'], { encoding: 'utf8', env })) as { secret: string };
  for (const port of ports) {
    const child = spawn(process.execPath, [cli, 'serve'], { env: { ...env, COUNTERSIGN_SERVER_PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(child);
  }
  await Promise.all(ports.map(waitReady));
  const code = execFileSync('oathtool', ['--totp', '-b', token.secret], { encoding: 'utf8' }).trim();
  const requests = Array.from({ length: 60 }, (_, i) => post(ports[i % 2] as number, '/api/v1/authentications', init.apiKey, { username: 'racer', passcode: code }));
  const results = await Promise.all(requests);
  expect(results.every((r) => r.status === 201)).toBe(true);
  const approved = results.filter((r) => r.body['state'] === 'approved');
  expect(approved).toHaveLength(1);
  expect(results.filter((r) => r.body['state'] === 'denied')).toHaveLength(59);
}

describe('one code, two server processes, one database', () => {
  it('SQLite: exactly one approval out of 60 concurrent requests', async () => {
    await race(null, [18601, 18602]);
  }, 60_000);

  it('PostgreSQL: exactly one approval out of 60 concurrent requests', async () => {
    const admin = new pg.Client({ connectionString: PG_BASE });
    try {
      await admin.connect();
    } catch (e) {
      if (process.env['CI']) throw e;
      console.warn(`PostgreSQL unreachable at ${PG_BASE}: skipping`);
      return;
    }
    const name = `cs_e2e_${Date.now().toString(36)}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(PG_BASE);
    url.pathname = `/${name}`;
    try {
      await race(url.toString(), [18603, 18604]);
    } finally {
      for (const c of children.splice(0)) c.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  }, 60_000);
});
