/** `countersign gateway ...` through the real CLI: sites, what an address meets, login form detection. */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProtectedApp, type ProtectedApp } from '../support/protected-app.ts';
import { json, ok, removeDir, run, tempDir, type RunOptions } from './run.ts';

let dir: string;
let o: RunOptions;
let app: ProtectedApp;

beforeAll(async () => {
  dir = await tempDir('gateway-cli');
  app = await startProtectedApp();
  await writeFile(
    path.join(dir, 'countersign.yaml'),
    `gateway:
  enabled: true
  sites:
    - name: wiki
      origins: [https://wiki.example.com]
      publicPaths: ["/static/**"]
      pathRules:
        - paths: ["/admin/**"]
          allowedNetworks: [10.0.0.0/8]
    - name: intranet
      origins: [https://intranet.example.com:9443]
      proxy:
        listen: 0.0.0.0:9443
        upstream: ${app.url}
        mode: form
        form:
          loginPath: /login
`,
  );
  o = { cwd: dir };
});
afterAll(async () => {
  await app.stop();
  await removeDir(dir);
});

describe('countersign gateway', () => {
  it('lists the sites', async () => {
    const out = await ok(['gateway', 'sites'], o);
    expect(out).toMatch(/wiki\s+https:\/\/wiki\.example\.com\s+wiki\s+forward-auth/);
    expect(out).toContain(`form 0.0.0.0:9443 -> ${app.url}`);
  });

  it('says what a request meets, reading paths as the gateway does', async () => {
    expect(await json(['gateway', 'check', 'https://wiki.example.com/static/app.js'], o)).toMatchObject({ site: 'wiki', public: true, refused: false });
    expect(await json(['gateway', 'check', 'https://WIKI.example.com:443/static/%2e%2e/admin'], o)).toMatchObject({ site: 'wiki', public: false });
    expect(await json(['gateway', 'check', 'https://wiki.example.com/admin/users', '--client', '192.0.2.1'], o)).toMatchObject({ refused: true });
    expect(await json(['gateway', 'check', 'https://wiki.example.com/admin/users', '--client', '10.1.2.3'], o)).toMatchObject({ refused: false, public: false });
    const human = await ok(['gateway', 'check', 'https://wiki.example.com/page'], o);
    expect(human).toContain('sign-in needed (password, then a second factor)');
    const unknown = await run(['gateway', 'check', 'https://other.example.com/'], o);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toContain('no site has the origin https://other.example.com');
    expect((await run(['gateway', 'check', 'ftp://x/'], o)).code).toBe(2);
  });

  it('reads a login form, and fails when a page has none', async () => {
    expect(await json(['gateway', 'detect-form', `${app.url}/login`], o)).toEqual({ found: true, submitPath: '/login', usernameField: 'username', passwordField: 'password', domainField: 'domain' });
    const none = await run(['gateway', 'detect-form', `${app.url}/health`], o);
    expect(none.code).toBe(1);
    expect(none.stdout).toContain('no login form found');
  });
});
