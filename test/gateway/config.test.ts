/**
 * The gateway as the configuration file sets it up: `countersign serve` with a forward-auth site
 * and a site behind the built-in proxy (form mode, fields read from the login page), each site's
 * application created on first start, and bad settings refused with the setting named.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { startServer } from '../../src/server.ts';
import { createKeyFile } from '../../src/store/keyring.ts';
import { freeTcpPort } from '../support/ports.ts';
import { startProtectedApp, type ProtectedApp } from '../support/protected-app.ts';
import { sendRaw } from '../support/raw-http.ts';

let dir: string;
let app: ProtectedApp;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'countersign-gateway-'));
  await createKeyFile(path.join(dir, 'countersign.key'));
  app = await startProtectedApp();
});
afterAll(async () => {
  await app.stop();
  await rm(dir, { recursive: true, force: true });
});

async function serve(gateway: string) {
  const port = await freeTcpPort();
  const file = path.join(dir, `c-${port}.yaml`);
  await writeFile(
    file,
    `server:\n  host: 127.0.0.1\n  port: ${port}\n  plainHttp: true\ndatabase:\n  url: sqlite:./db-${port}.db\nkeys:\n  file: countersign.key\n${gateway}`,
  );
  const config = await loadConfig({ file, env: {} });
  return startServer(config, { handleSignals: false, logger: pino({ level: 'silent' }) });
}

describe('gateway configuration', () => {
  it('serves forward-auth decisions and a built-in proxy site, creating their applications', async () => {
    const proxyPort = await freeTcpPort();
    await writeFile(path.join(dir, 'denied.html'), '<p>No entry.</p>');
    const server = await serve(`gateway:
  enabled: true
  sites:
    - name: wiki
      origins: [https://wiki.example.com]
      publicPaths: ["/static/**"]
    - name: intranet
      origins: [http://127.0.0.1:${proxyPort}]
      denialPage: denied.html
      proxy:
        listen: 127.0.0.1:${proxyPort}
        upstream: ${app.url}
        mode: form
        tls: false
        form:
          loginPath: /login
`);
    try {
      const port = Number(new URL(server.url).port);
      const decide = (url: string) => sendRaw(port, '/gateway/auth', { headers: { 'x-original-url': url } });
      expect((await decide('https://wiki.example.com/static/app.js')).status).toBe(200);
      const anonymous = await decide('https://wiki.example.com/admin');
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.location).toBe(
        `${server.url}/gateway/sign-in?rd=${encodeURIComponent('https://wiki.example.com/admin')}`.replace(server.url, 'https://wiki.example.com'),
      );
      expect((await decide('https://other.example.com/')).status).toBe(403);
      // Each endpoint reads one header convention: the other, which a proxy may pass on from the client, is ignored.
      const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'wiki.example.com', 'x-forwarded-uri': '/static/app.js' };
      expect((await sendRaw(port, '/gateway/auth', { headers: forwarded })).status).toBe(403);
      expect((await sendRaw(port, '/gateway/forward-auth', { headers: forwarded })).status).toBe(200);
      expect((await sendRaw(port, '/gateway/forward-auth', { headers: { 'x-original-url': 'https://wiki.example.com/static/app.js' } })).status).toBe(403);
      expect(
        (
          await sendRaw(port, '/gateway/forward-auth', {
            headers: { ...forwarded, 'x-forwarded-uri': '/admin', 'x-original-url': 'https://wiki.example.com/static/app.js' },
          })
        ).status,
      ).toBe(302);
      // Each decision is counted in /metrics by site and decision.
      const metrics = (await sendRaw(port, '/metrics')).body;
      const count = (labels: string): number =>
        Number(
          metrics
            .split('\n')
            .find((l) => l.startsWith(`countersign_gateway_decisions_total{${labels}} `))
            ?.split(' ')[1],
        );
      expect(count('site="wiki",decision="public"')).toBe(2);
      expect(count('site="wiki",decision="sign_in"')).toBe(2);
      expect(count('site="",decision="unknown_site"')).toBe(3);
      // The built-in proxy: the login page passes; its login post is held for a second factor
      // (the fields were read from the page); an unknown user gets the site's denial page.
      expect((await sendRaw(proxyPort, '/login')).body).toContain('name="password"');
      const nobody = await sendRaw(proxyPort, '/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'username=nobody&password=app-password',
      });
      expect(nobody.status).toBe(403);
      expect(nobody.body).toBe('<p>No entry.</p>');
      expect(app.requests.filter((r) => r.method === 'POST')).toEqual([]);
    } finally {
      await server.close();
    }
    // Both applications exist now, with unknown users denied.
    const again = await serve('');
    await again.close();
  });

  it('refuses bad sites, naming the setting', async () => {
    await expect(serve('gateway:\n  enabled: true\n  sites:\n    - name: a\n      origins: [ftp://x]\n')).rejects.toThrow(
      /gateway\.sites\[0\] \(a\)\.origins: "ftp:\/\/x" is not an origin/,
    );
    await expect(
      serve('gateway:\n  enabled: true\n  sites:\n    - name: a\n      origins: [https://a.example]\n      publicPaths: ["/x/../y"]\n'),
    ).rejects.toThrow(/gateway\.sites\[0\] \(a\)\.publicPaths/);
    await expect(serve('gateway:\n  enabled: true\n  cookieDomain: example.com\n')).rejects.toThrow(/gateway\.url: required with gateway\.cookieDomain/);
    await expect(
      serve('gateway:\n  enabled: true\n  sites:\n    - name: a\n      origins: [https://a.example]\n      denialPage: missing.html\n'),
    ).rejects.toThrow(/gateway\.sites\[0\]\.denialPage: cannot read/);
  });
});
