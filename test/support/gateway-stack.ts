/**
 * The web gateway as deployed with nginx: a real nginx (auth_request to Countersign's /gateway/auth,
 * /gateway/ forwarded to Countersign, everything else to a protected application), Countersign's
 * HTTP door with one gateway site over a real core and temp store (fake clock), and the protected
 * test application. With `tls`, nginx serves HTTPS with a self-signed certificate (for a browser).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { selfSignedCertificate } from '../../src/cli/init.ts';
import { createLocalPasswordFirstFactor } from '../../src/core/first-factor/local-password.ts';
import { buildHttpApp } from '../../src/doors/http/app.ts';
import { createMetrics } from '../../src/ops/metrics.ts';
import { argon2Hasher } from '../../src/platform/hashing.ts';
import { cliActor, createTestCore, type TestCore } from './harness.ts';
import { startNginx, type Nginx } from './nginx.ts';
import { freeTcpPort } from './ports.ts';
import { startProtectedApp, type ProtectedApp } from './protected-app.ts';

export const STACK_PASSWORD = 'correct horse battery';

export interface GatewayStack {
  readonly tc: TestCore;
  readonly app: ProtectedApp;
  readonly nginx: Nginx;
  readonly countersign: FastifyInstance;
  /** The site's origin as browsers see it: http(s)://127.0.0.1:<nginx port>. */
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

export async function startGatewayStack(opts: GatewayStackOptions = {}): Promise<GatewayStack> {
  const tc = await createTestCore();
  const app = await startProtectedApp();
  // Countersign's port first, so nginx can point at it; Countersign then learns nginx's origin.
  const csPort = await freeTcpPort();
  const tls = opts.tls ? await selfSignedCertificate() : undefined;
  const upstream = `http://127.0.0.1:${csPort}`;
  const nginx = await startNginx(({ port, dir }) => {
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
          proxy_pass ${app.url};
        }
      }`;
  });
  const origin = `${tls ? 'https' : 'http'}://127.0.0.1:${nginx.port}`;
  const firstFactor = createLocalPasswordFirstFactor({ store: tc.store, passwords: argon2Hasher({ memoryCost: 1024, timeCost: 1 }), clock: tc.clock });
  await tc.core.applications.create({ name: 'wiki', requireUserMatch: true, trustedIps: [...(opts.trustedIps ?? [])] }, cliActor);
  const countersign = await buildHttpApp({
    core: tc.core,
    logger: false,
    metrics: createMetrics(),
    trustProxy: [],
    rateLimit: { perKeyPerMinute: 100_000, perAddressPerMinute: 100_000 },
    metricsAllowFrom: [],
    ready: () => tc.store.ping(),
    firstFactor,
    clock: tc.clock,
    gateway: {
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
  await countersign.listen({ host: '127.0.0.1', port: csPort });
  await tc.core.users.create({ username: 'alice', email: 'alice@example.com', displayName: 'Alice Example' }, cliActor);
  await tc.core.users.setPassword('alice', STACK_PASSWORD, cliActor);
  const secret = (await tc.core.methods.enrollTotp('alice', {}, cliActor)).secret;
  return {
    tc,
    app,
    nginx,
    countersign,
    origin,
    secret,
    async close() {
      await nginx.stop();
      await countersign.close();
      await app.stop();
      await tc.close();
    },
  };
}
