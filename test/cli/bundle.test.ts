/** The bundle that scripts/quickstart builds and bin/countersign runs works on its own. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'countersign-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bundle', () => {
  it('builds, initializes an installation and manages users', () => {
    execFileSync(process.execPath, [join(root, 'scripts/build.ts')], { cwd: root, stdio: 'pipe' });
    const bundle = join(root, 'dist/countersign.mjs');
    expect(existsSync(bundle)).toBe(true);
    const env = { ...process.env, COUNTERSIGN_CONFIG: join(dir, 'countersign.yaml') };
    const run = (...args: string[]) => execFileSync(process.execPath, [bundle, ...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
    const init = JSON.parse(run('init', '--dir', dir, '--json')) as { apiKey: string };
    expect(init.apiKey).toMatch(/^cs_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{43}$/);
    run('user', 'add', 'bundled');
    const list = JSON.parse(run('user', 'list', '--json')) as { items: { username: string }[] };
    expect(list.items.map((u) => u.username)).toEqual(['admin', 'bundled']); // admin: the console administrator made by init
    const launched = execFileSync(process.execPath, [join(root, 'bin/countersign'), '--version'], { encoding: 'utf8' });
    expect(launched.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  }, 60_000);
});
