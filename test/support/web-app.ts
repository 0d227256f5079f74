/**
 * The HTTP door with the user portal over a real core and a temp SQLite store with a fake clock,
 * for page tests: in-process (app.inject) or listening on loopback HTTPS for a real browser.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Core } from '../../src/core/api.ts';
import type { FirstFactorProvider, SmsSender } from '../../src/core/ports.ts';
import { selfSignedCertificate } from '../../src/cli/init.ts';
import { createLocalPasswordFirstFactor } from '../../src/core/first-factor/local-password.ts';
import { buildHttpApp, type HttpAppOptions } from '../../src/doors/http/app.ts';
import { createMetrics } from '../../src/ops/metrics.ts';
import type { FakeClock } from '../../src/platform/clock.ts';
import { argon2Hasher } from '../../src/platform/hashing.ts';
import { createTestCore, type TestCore } from './harness.ts';

export interface WebApp {
  readonly app: FastifyInstance;
  readonly core: Core;
  readonly clock: FakeClock;
  readonly tc: TestCore;
  /** https://127.0.0.1:<port> when listening, else ''. */
  readonly url: string;
  close(): Promise<void>;
}

/** Local passwords as the first factor, with cheap argon2 parameters and the test core's clock. */
export function testFirstFactor(tc: TestCore): FirstFactorProvider {
  return createLocalPasswordFirstFactor({ store: tc.store, passwords: argon2Hasher({ memoryCost: 1024, timeCost: 1 }), clock: tc.clock });
}

/**
 * The HTTP door's options every page and gateway test starts from: the test core, its fake clock,
 * local passwords (cheap argon2 parameters) as the first factor, no rate limits in the way.
 */
export function testHttpAppOptions(tc: TestCore): HttpAppOptions {
  return {
    core: tc.core,
    logger: false,
    metrics: createMetrics(),
    trustProxy: [],
    rateLimit: { perKeyPerMinute: 100_000, perAddressPerMinute: 100_000 },
    metricsAllowFrom: [],
    ready: () => tc.store.ping(),
    firstFactor: testFirstFactor(tc),
    clock: tc.clock,
  };
}

/** `sms`: the core's SMS sender (e.g. the Twilio sender pointed at the test twin); none by default. */
export async function startWebApp(opts: { listen?: boolean; sms?: SmsSender } = {}): Promise<WebApp> {
  const tc = await createTestCore(opts.sms ? { sms: opts.sms } : {});
  const https = opts.listen ? await selfSignedCertificate() : undefined;
  const app = await buildHttpApp({ ...testHttpAppOptions(tc), ...(https ? { https } : {}) });
  let url = '';
  if (opts.listen) {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    url = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  } else {
    await app.ready();
  }
  return {
    app,
    core: tc.core,
    clock: tc.clock,
    tc,
    url,
    async close() {
      await app.close();
      await tc.close();
    },
  };
}

/** A browser-like cookie jar over app.inject: keeps cookies, follows nothing. */
export class InjectBrowser {
  readonly cookies = new Map<string, string>();
  private readonly app: FastifyInstance;
  private readonly headers: Record<string, string>;
  constructor(app: FastifyInstance, headers: Record<string, string> = {}) {
    this.app = app;
    this.headers = headers;
  }

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private keep(res: LightMyRequestResponse): void {
    for (const c of res.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      if (c.value === '' || (c.maxAge !== undefined && c.maxAge <= 0) || (c.expires !== undefined && c.expires.getTime() < Date.now())) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const res = await this.app.inject({ method: 'GET', url, headers: { ...this.headers, ...headers, cookie: this.cookieHeader() } });
    this.keep(res);
    return res;
  }

  async post(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const res = await this.app.inject({
      method: 'POST',
      url,
      headers: { ...this.headers, ...headers, cookie: this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(form).toString(),
    });
    this.keep(res);
    return res;
  }
}

/** The value of the first hidden `_csrf` field of a page. */
export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]*)"/.exec(html);
  if (!m?.[1]) throw new Error('no _csrf field on the page');
  return m[1];
}
