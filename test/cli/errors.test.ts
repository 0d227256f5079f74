import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installation, ok, removeDir, run, tempDir } from './run.ts';

let dir: string;
let empty: string;

beforeAll(async () => {
  ({ dir } = await installation('errors'));
  empty = await tempDir('errors-empty');
});
afterAll(async () => {
  await removeDir(dir);
  await removeDir(empty);
});

describe('help', () => {
  it('top-level help lists the groups, global options and examples; exit 0', async () => {
    const r = await run(['--help'], { cwd: empty });
    expect(r.code).toBe(0);
    for (const word of ['init', 'serve', 'user', 'token', 'verify', 'bypass', 'apikey', 'app', 'settings', 'audit', 'keys', '--config <file>', '--json', 'Examples:']) {
      expect(r.stdout).toContain(word);
    }
  });

  it('every command has help with an example', async () => {
    const commands = [
      ['init'],
      ['serve'],
      ['verify'],
      ...['add', 'show', 'list', 'update', 'enable', 'disable', 'block', 'unblock', 'unlock', 'delete', 'history', 'import'].map((v) => ['user', v]),
      ...['add', 'list', 'remove', 'import', 'resync'].map((v) => ['token', v]),
      ...['issue', 'show', 'cancel'].map((v) => ['bypass', v]),
      ...['create', 'list', 'revoke'].map((v) => ['apikey', v]),
      ...['list', 'add', 'update', 'remove', 'show'].map((v) => ['app', v]),
      ...['show', 'set'].map((v) => ['settings', v]),
      ...['list', 'tail'].map((v) => ['audit', v]),
      ['keys', 'rotate'],
    ];
    const results = await Promise.all(commands.map((c) => run([...c, '--help'], { cwd: empty })));
    results.forEach((r, i) => {
      const name = commands[i]!.join(' ');
      expect(r.code, name).toBe(0);
      expect(r.stdout, name).toContain(`Usage: countersign ${name}`);
      expect(r.stdout, name).toMatch(/Examples?:\n {2}\$ countersign /);
    });
  });

  it('an unknown command is a usage error (exit 2) with a suggestion', async () => {
    const r = await run(['usr', 'list'], { cwd: empty });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'usr'");
    expect(r.stderr).toContain('user');
  });
});

describe('errors', () => {
  it('a bad config value is one line naming the key, without a stack trace', async () => {
    const file = path.join(empty, 'bad.yaml');
    await writeFile(file, 'server:\n  port: 99999\n');
    const r = await run(['--config', file, 'user', 'list'], { cwd: empty });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: config: server.port: 99999 is not allowed: an integer 1..65535\n');
  });

  it('an unknown key in the config suggests the right one', async () => {
    const file = path.join(empty, 'typo.yaml');
    await writeFile(file, 'server:\n  prot: 8443\n');
    const r = await run(['user', 'list'], { cwd: empty, env: { COUNTERSIGN_CONFIG: file } });
    expect(r.stderr).toBe('error: config: unknown key server.prot; did you mean server.port?\n');
  });

  it('COUNTERSIGN_DEBUG=1 adds the stack trace', async () => {
    const r = await run(['user', 'show', 'ghost'], { cwd: dir, env: { COUNTERSIGN_DEBUG: '1' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: user_not_found: no such user\nCoreError: no such user\n\s+at /);
    const quiet = await run(['user', 'show', 'ghost'], { cwd: dir });
    expect(quiet.stderr).toBe('error: user_not_found: no such user\n');
  });

  it('a key file readable by others is refused with the fix', async () => {
    const { dir: other } = await installation('errors-key');
    try {
      await chmod(path.join(other, 'countersign.key'), 0o644);
      const r = await run(['user', 'list'], { cwd: other });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('chmod 600');
    } finally {
      await removeDir(other);
    }
  });

  it('--json keeps errors on stderr and stdout empty', async () => {
    const r = await run(['user', 'show', 'ghost', '--json'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('error: user_not_found: no such user\n');
    expect(await ok(['user', 'list', '--search', 'nobody-at-all', '--json'], { cwd: dir })).toBe('{\n  "items": [],\n  "next": null\n}\n');
  });
});
