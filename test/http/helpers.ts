/** A real HTTP app over a real core and a temp SQLite store, with one API key per role. */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Secret, TOTP } from 'otpauth';
import type { Logger } from 'pino';
import type { AuthenticationListener, Core } from '../../src/core/api.ts';
import { createLocalPasswordFirstFactor } from '../../src/core/first-factor/local-password.ts';
import type { FirstFactorProvider } from '../../src/core/ports.ts';
import type { Role } from '../../src/core/types.ts';
import type { DirectoryService } from '../../src/directory/directory-service.ts';
import type { SyncService } from '../../src/directory/sync-service.ts';
import { buildHttpApp } from '../../src/doors/http/app.ts';
import type { HttpAppOptions } from '../../src/doors/http/app.ts';
import { createMetrics } from '../../src/ops/metrics.ts';
import type { Metrics } from '../../src/ops/metrics.ts';
import type { FakeClock } from '../../src/platform/clock.ts';
import { argon2Hasher } from '../../src/platform/hashing.ts';
import { cliActor, createTestCore } from '../support/harness.ts';
import type { TestCore } from '../support/harness.ts';

export interface TestApp {
  readonly app: FastifyInstance;
  readonly core: Core;
  readonly clock: FakeClock;
  readonly metrics: Metrics;
  readonly tc: TestCore;
  /** Bearer tokens per role. */
  readonly keys: Readonly<Record<Role, string>>;
  /** Headers with the role's API key. */
  as(role: Role): Record<string, string>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  readonly rateLimit?: HttpAppOptions['rateLimit'];
  readonly trustProxy?: string[];
  readonly metricsAllowFrom?: string[];
  readonly ready?: () => Promise<void>;
  readonly logger?: Logger | false;
  readonly onAuthentication?: AuthenticationListener;
  /** Builds the directory service (configured sources) over the app's core and store. */
  readonly directories?: (tc: TestCore) => DirectoryService;
  /** Builds the directory synchronization service over the app's core and store. */
  readonly directorySync?: (tc: TestCore) => SyncService;
  /**
   * Serves the portal and the admin console with this first factor; `'local'` is the local password
   * provider over the app's store, with the harness's cheap argon2 parameters.
   */
  readonly firstFactor?: 'local' | ((tc: TestCore) => FirstFactorProvider);
  /** Where the built admin console is looked for (default: dist/console of the repository). */
  readonly consoleDir?: string;
}

/** The local password first factor over a test core, with cheap argon2 parameters (as the harness's core). */
export function localFirstFactor(tc: TestCore): FirstFactorProvider {
  return createLocalPasswordFirstFactor({ store: tc.store, passwords: argon2Hasher({ memoryCost: 1024, timeCost: 1 }), clock: tc.clock, serverName: 'test-server' });
}

export async function createTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const metrics = createMetrics();
  const tc = await createTestCore({ onAuthentication: opts.onAuthentication ?? metrics.observeAuthentication });
  const keys = {} as Record<Role, string>;
  for (const role of ['admin', 'sdk', 'helpdesk', 'auditor'] as const) {
    keys[role] = (await tc.core.apiKeys.create({ name: `test-${role}`, role }, cliActor)).token;
  }
  const directories = opts.directories?.(tc);
  const directorySync = opts.directorySync?.(tc);
  const firstFactor = opts.firstFactor === 'local' ? localFirstFactor(tc) : opts.firstFactor?.(tc);
  const app = await buildHttpApp({
    core: tc.core,
    logger: opts.logger ?? false,
    metrics,
    trustProxy: opts.trustProxy ?? [],
    rateLimit: opts.rateLimit ?? { perKeyPerMinute: 100_000, perAddressPerMinute: 100_000 },
    metricsAllowFrom: opts.metricsAllowFrom ?? [],
    ready: opts.ready ?? (() => tc.store.ping()),
    ...(directories ? { directories } : {}),
    ...(directorySync ? { directorySync } : {}),
    ...(firstFactor ? { firstFactor, clock: tc.clock } : {}),
    ...(opts.consoleDir !== undefined ? { consoleDir: opts.consoleDir } : {}),
  });
  await app.ready();
  return {
    app,
    core: tc.core,
    clock: tc.clock,
    metrics,
    tc,
    keys,
    as: (role) => ({ authorization: `Bearer ${keys[role]}` }),
    async close() {
      await app.close();
      await directorySync?.stop();
      await tc.close();
    },
  };
}

/** The current TOTP code of a base32 secret at the fake clock's time. */
export function totpAt(secret: string, timestamp: number, opts: { digits?: number; period?: number; algorithm?: string } = {}): string {
  return new TOTP({ secret: Secret.fromBase32(secret), digits: opts.digits ?? 6, period: opts.period ?? 30, algorithm: opts.algorithm ?? 'SHA1' }).generate({ timestamp });
}

export function json<T = Record<string, unknown>>(res: LightMyRequestResponse): T {
  return JSON.parse(res.body) as T;
}

export interface ProblemJson {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: { field: string; in?: string; message: string }[];
}

export function expectProblemShape(res: LightMyRequestResponse): ProblemJson {
  if (!String(res.headers['content-type']).startsWith('application/problem+json')) {
    throw new Error(`expected application/problem+json, got ${String(res.headers['content-type'])}: ${res.body}`);
  }
  return json<ProblemJson>(res);
}
