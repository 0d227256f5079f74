import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAIN, cleanEnv, installation, removeDir, run } from './run.ts';

const dirs: string[] = [];
const children: ChildProcessWithoutNullStreams[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) await removeDir(d);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** GET over HTTPS, trusting only the installation's own certificate (verification on). */
function get(port: number, urlPath: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', servername: 'localhost', port, path: urlPath, ca, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function waitFor(child: ChildProcessWithoutNullStreams, stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} on ${stream}; got: ${seen}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      seen += d.toString();
      const m = pattern.exec(seen);
      if (m) {
        clearTimeout(timer);
        child[stream].off('data', onData);
        resolve(m[0]);
      }
    };
    child[stream].on('data', onData);
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`exited before ${pattern}; ${stream}: ${seen}`));
    });
  });
}

describe('countersign serve', () => {
  it('serves /healthz over HTTPS with the self-signed certificate, the API with the init key, and stops on SIGTERM', async () => {
    const { dir, apiKey } = await installation('serve');
    dirs.push(dir);
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN, 'serve'], {
      cwd: dir,
      env: cleanEnv({ COUNTERSIGN_SERVER_HOST: '127.0.0.1', COUNTERSIGN_SERVER_PORT: String(port) }),
    });
    children.push(child);
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const line = await waitFor(child, 'stderr', /Countersign is listening on (\S+)\n/);
    expect(line).toBe(`Countersign is listening on https://127.0.0.1:${port}\n`);

    const ca = await readFile(path.join(dir, 'tls/cert.pem'));
    const health = await get(port, '/healthz', ca);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' });
    expect((await get(port, '/readyz', ca)).status).toBe(200);
    expect((await get(port, '/api/v1/users', ca)).status).toBe(401);
    const users = await get(port, '/api/v1/users', ca, { authorization: `Bearer ${apiKey}` });
    expect(users.status).toBe(200);

    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const stoppedAt = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - stoppedAt).toBeLessThan(5000);

    const log = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const ready = log.find((e) => e['msg'] === 'ready');
    expect(ready).toMatchObject({ url: `https://127.0.0.1:${port}`, store: 'sqlite' });
    expect(typeof ready?.['startupMs']).toBe('number');
    expect(log.some((e) => e['level'] === 40 && String(e['msg']).includes('self-signed'))).toBe(true);
    expect(log.some((e) => e['msg'] === 'shutting down' && e['signal'] === 'SIGTERM')).toBe(true);
    expect(log.at(-1)?.['msg']).toBe('stopped');
    // The bearer token never reaches the log.
    expect(stdout).not.toContain(apiKey);
  }, 90_000);

  it('refuses plain HTTP on a public address, naming the setting', async () => {
    const { dir } = await installation('serve-plain');
    dirs.push(dir);
    const r = await run(['serve'], { cwd: dir, env: { COUNTERSIGN_SERVER_PLAIN_HTTP: 'true', COUNTERSIGN_SERVER_HOST: '0.0.0.0' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: config: server\.plainHttp: true is not allowed with server\.host "0\.0\.0\.0"/);
  }, 60_000);

  it('allows plain HTTP on a public address only when told to, with a loud warning', async () => {
    const { dir } = await installation('serve-insecure');
    dirs.push(dir);
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN, 'serve', '--json'], {
      cwd: dir,
      env: cleanEnv({ COUNTERSIGN_SERVER_PLAIN_HTTP: 'true', COUNTERSIGN_SERVER_ALLOW_INSECURE_PUBLIC_HTTP: 'true', COUNTERSIGN_SERVER_HOST: '0.0.0.0', COUNTERSIGN_SERVER_PORT: String(port) }),
    });
    children.push(child);
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const ready = await waitFor(child, 'stdout', /\{\s*"url": "http:\/\/localhost:\d+"\s*\}/);
    expect(JSON.parse(ready)).toEqual({ url: `http://localhost:${port}` });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const warning = stdout
      .split('\n')
      .filter((l) => l.startsWith('{"level"'))
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .find((e) => e.msg.startsWith('INSECURE: plain HTTP'));
    expect(warning?.level).toBe(40);
    expect(warning?.msg).toContain('UNENCRYPTED');
  }, 90_000);
});
