/**
 * The web gateway as deployed with nginx: a real nginx (auth_request to Countersign's /gateway/auth,
 * /gateway/ forwarded to Countersign, everything else to a protected application), Countersign's
 * HTTP door with one gateway site over a real core and temp store (fake clock), and the protected
 * test application. With `tls`, nginx serves HTTPS with a self-signed certificate (for a browser).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { expect } from 'vitest';
import { selfSignedCertificate } from '../../src/cli/init.ts';
import { buildHttpApp } from '../../src/doors/http/app.ts';
import { totpAt } from '../http/helpers.ts';
import { cliActor, createTestCore, type TestCore } from './harness.ts';
import { startNginx, type Nginx } from './nginx.ts';
import { freeTcpPort } from './ports.ts';
import { startProtectedApp, type ProtectedApp } from './protected-app.ts';
import { hiddenField, type CookieClient } from './raw-http.ts';
import { testHttpAppOptions } from './web-app.ts';

export const STACK_PASSWORD = 'correct horse battery';

/** The parts of a gateway stack every proxy's has. */
export interface GatewayParts {
  readonly tc: TestCore;
  readonly app: ProtectedApp;
  readonly countersign: FastifyInstance;
  /** The site's origin as browsers see it: http(s)://127.0.0.1:<proxy port>. */
  readonly origin: string;
  /** Base32 TOTP secret of the user `alice` (password STACK_PASSWORD). */
  readonly secret: string;
  close(): Promise<void>;
}

export interface GatewayStackOptions {
  readonly tls?: boolean;
  readonly cacheSeconds?: number;
  /** Trusted networks of the site's application (they skip the second factor). */
  readonly trustedIps?: readonly string[];
  readonly deniedNetworks?: readonly string[];
  readonly pathRules?: readonly { paths: string[]; deniedNetworks?: string[]; allowedNetworks?: string[] }[];
}

/** A proxy in front of the gateway, as startGatewayBehind needs it. */
export interface FrontProxy {
  readonly port: number;
  stop(): Promise<void>;
}

/** Countersign's side of a stack: what a proxy in front of it was started with. */
export interface Backends {
  /** Countersign's port (it listens once the proxy is up and the site knows the proxy's origin). */
  readonly countersignPort: number;
  /** The protected application's base URL, http://127.0.0.1:<port>. */
  readonly appUrl: string;
}

export interface GatewayBehind<P extends FrontProxy> extends GatewayParts {
  readonly proxy: P;
  /** Decision requests that reached Countersign (at the path given), as it received them. */
  readonly decisions: { url: string; headers: IncomingHttpHeaders; peer: string | undefined }[];
}

/**
 * Countersign's HTTP door with one gateway site (`wiki`, public `/public/**` and `/health`) behind
 * a proxy that `startProxy` starts in front of it and of the protected application, and the user
 * `alice` (password STACK_PASSWORD, one TOTP authenticator). `origin(proxy)` is the site's origin.
 */
export async function startGatewayBehind<P extends FrontProxy>(
  startProxy: (backends: Backends) => Promise<P>,
  opts: GatewayStackOptions & { readonly origin?: (proxy: P) => string; readonly decisionPath?: string } = {},
): Promise<GatewayBehind<P>> {
  const tc = await createTestCore();
  const app = await startProtectedApp();
  // Countersign's port first, so the proxy can point at it; Countersign then learns the proxy's origin.
  const csPort = await freeTcpPort();
  const proxy = await startProxy({ countersignPort: csPort, appUrl: app.url });
  const origin = opts.origin ? opts.origin(proxy) : `http://127.0.0.1:${proxy.port}`;
  await tc.core.applications.create({ name: 'wiki', requireUserMatch: true, trustedIps: [...(opts.trustedIps ?? [])] }, cliActor);
  const countersign = await buildHttpApp({
    ...testHttpAppOptions(tc),
    gateway: {
      // The proxy connects from loopback: the only one that gets decisions and whose X-Forwarded-For counts.
      proxies: ['127.0.0.1'],
      signInPerMinute: 100_000,
      sites: [
        {
          name: 'wiki',
          application: 'wiki',
          origins: [origin],
          publicPaths: ['/public/**', '/health'],
          deniedNetworks: [...(opts.deniedNetworks ?? [])],
          pathRules: opts.pathRules ?? [],
          cacheSeconds: opts.cacheSeconds ?? 3600,
        },
      ],
    },
  });
  const decisions: GatewayBehind<P>['decisions'] = [];
  const decisionPath = opts.decisionPath;
  if (decisionPath !== undefined) {
    // A read-only look at what reaches Countersign (Fastify answers the same request).
    countersign.server.on('request', (req: { url?: string; headers: IncomingHttpHeaders; socket: { remoteAddress?: string } }) => {
      if (req.url?.startsWith(decisionPath)) decisions.push({ url: req.url, headers: req.headers, peer: req.socket.remoteAddress });
    });
  }
  await countersign.listen({ host: '127.0.0.1', port: csPort });
  await tc.core.users.create({ username: 'alice', email: 'alice@example.com', displayName: 'Alice Example' }, cliActor);
  await tc.core.users.setPassword('alice', STACK_PASSWORD, cliActor);
  const secret = (await tc.core.methods.enrollTotp('alice', {}, cliActor)).secret;
  return {
    tc,
    app,
    proxy,
    countersign,
    origin,
    secret,
    decisions,
    async close() {
      await proxy.stop();
      await countersign.close();
      await app.stop();
      await tc.close();
    },
  };
}

/** The gateway behind nginx; `nginx` is the proxy. */
export type GatewayStack = GatewayBehind<Nginx> & { readonly nginx: Nginx };

/** The gateway behind a real nginx with auth_request (HTTPS with `tls`). */
export async function startGatewayStack(opts: GatewayStackOptions = {}): Promise<GatewayStack> {
  const tls = opts.tls ? await selfSignedCertificate() : undefined;
  const stack = await startGatewayBehind(
    ({ countersignPort, appUrl }) => {
      const upstream = `http://127.0.0.1:${countersignPort}`;
      return startNginx(({ port, dir }) => {
        if (tls) {
          writeFileSync(join(dir, 'cert.pem'), tls.cert);
          writeFileSync(join(dir, 'key.pem'), tls.key, { mode: 0o600 });
        }
        return `
      server {
        listen 127.0.0.1:${port}${tls ? ' ssl' : ''};
        ${tls ? `ssl_certificate ${join(dir, 'cert.pem')}; ssl_certificate_key ${join(dir, 'key.pem')};` : ''}
        location /gateway/ {
          proxy_pass ${upstream};
          proxy_set_header Host $http_host;
          proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
        location = /_countersign {
          internal;
          proxy_pass ${upstream}/gateway/auth;
          proxy_pass_request_body off;
          proxy_set_header Content-Length "";
          proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
          proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
        location / {
          auth_request /_countersign;
          auth_request_set $cs_user $upstream_http_remote_user;
          auth_request_set $cs_email $upstream_http_remote_email;
          auth_request_set $cs_name $upstream_http_remote_name;
          auth_request_set $cs_groups $upstream_http_remote_groups;
          auth_request_set $cs_signin $upstream_http_location;
          error_page 401 =302 $cs_signin;
          proxy_set_header Remote-User $cs_user;
          proxy_set_header Remote-Email $cs_email;
          proxy_set_header Remote-Name $cs_name;
          proxy_set_header Remote-Groups $cs_groups;
          proxy_pass ${appUrl};
        }
      }`;
      });
    },
    { ...opts, origin: (nginx) => `${tls ? 'https' : 'http'}://127.0.0.1:${nginx.port}` },
  );
  return { ...stack, nginx: stack.proxy };
}

/**
 * Signs `alice` in through a proxy in front of the gateway: the protected page (302 to sign-in),
 * the sign-in form, the password, then a TOTP code; ends back on the page.
 */
export async function signInThrough(c: CookieClient, stack: { origin: string; tc: TestCore; secret: string }, path = '/admin'): Promise<void> {
  const { origin, tc, secret } = stack;
  const first = await c.get(path);
  expect(first.status).toBe(302);
  const location = String(first.headers.location);
  expect(location).toBe(`${origin}/gateway/sign-in?rd=${encodeURIComponent(`${origin}${path}`)}`);
  const form = await c.get(location.slice(origin.length));
  expect(form.status).toBe(200);
  const verify = await c.post('/gateway/sign-in', { _csrf: hiddenField(form.body, '_csrf'), rd: hiddenField(form.body, 'rd'), username: 'alice', password: STACK_PASSWORD });
  expect(verify.status).toBe(200);
  expect(verify.body).toContain('name="code"');
  tc.clock.advance(30_000);
  const back = await c.post('/gateway/verify', { _csrf: hiddenField(verify.body, '_csrf'), code: totpAt(secret, tc.clock.now()) });
  expect(back.status).toBe(303);
  expect(back.headers.location).toBe(`${origin}${path}`);
}
