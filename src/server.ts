/**
 * Composition root: configuration -> key file -> store -> core -> front doors.
 *
 * `openContext` is what every entry point shares (the server and each CLI command): the same
 * database, the same key file, the same core. `startServer` adds the logger, metrics and the HTTP
 * door, listens, and shuts down gracefully on SIGINT/SIGTERM.
 */
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { ConfigError } from './config/errors.ts';
import { isLoopbackHost } from './config/load.ts';
import type { Config, SmsConfig } from './config/schema.ts';
import type { Actor, AuthenticationListener, Core } from './core/api.ts';
import { trackInFlight } from './core/in-flight.ts';
import { createCore } from './core/index.ts';
import { isCoreError } from './core/errors.ts';
import { compileSites } from './doors/http/gateway/sites.ts';
import { checkUserReplyAttribute } from './doors/radius/reply-attributes.ts';
import type { FirstFactorRegistry } from './core/first-factor/by-source.ts';
import type { FirstFactorProvider, PasswordHasher, PushSender, SmsSender, Store, VoiceCaller } from './core/ports.ts';
import { createTwilioSender } from './delivery/twilio.ts';
import { createTwilioCaller } from './delivery/twilio-voice.ts';
import { systemClock } from './platform/clock.ts';
import { argon2Hasher, hmacHasher } from './platform/hashing.ts';
import { systemRandom } from './platform/random.ts';
import { openStore } from './store/index.ts';
import { loadKeyring, readVapidKeys, type Keyring } from './store/keyring.ts';

/** Who deletes old records in the server's housekeeping, in the audit trail. */
const RETENTION_ACTOR: Actor = { kind: 'system', name: 'retention', role: 'admin' };

export interface Context {
  readonly core: Core;
  readonly store: Store;
  readonly keyring: Keyring;
  /**
   * First-factor providers for the front doors, built on first use: `user` (by the user's source:
   * directory bind or local password), `local`, and `directory:<name>` per configured source.
   */
  firstFactors(): Promise<FirstFactorRegistry>;
  /** Closes the store. */
  close(): Promise<void>;
}

export interface OpenContextOptions {
  /** Run pending database migrations (the store's default when omitted). */
  readonly migrate?: boolean;
  /** Observes every finished authentication (metrics). */
  readonly onAuthentication?: AuthenticationListener;
}

/** The configured SMS provider, or undefined for `sms.provider: none` (phones cannot be verified then). */
export function smsSender(sms: SmsConfig): SmsSender | undefined {
  if (sms.provider !== 'twilio') return undefined;
  return createTwilioSender({ accountSid: sms.twilio.accountSid, authToken: sms.twilio.authToken, from: sms.twilio.from, baseUrl: sms.twilio.baseUrl });
}

/** The configured caller of the phone-call method, or undefined for `voice.provider: none`. */
export function voiceCaller(config: Config): VoiceCaller | undefined {
  if (config.voice.provider !== 'twilio') return undefined;
  const { twilio } = config.sms;
  return createTwilioCaller({
    accountSid: twilio.accountSid,
    authToken: twilio.authToken,
    from: config.voice.from || twilio.from,
    baseUrl: twilio.baseUrl,
    callbackUrl: config.voice.callbackUrl,
    ringSeconds: config.voice.ringSeconds,
  });
}

/**
 * The configured sender of push notifications, or undefined for `push.provider: none`. Reads the
 * VAPID key pair from the key file; throws when it has none (`countersign keys vapid` adds it).
 */
export async function pushSender(config: Config): Promise<PushSender | undefined> {
  if (config.push.provider !== 'webpush') return undefined;
  const [vapid, { createWebPushSender }] = await Promise.all([readVapidKeys(config.keys.file), import('./delivery/web-push.ts')]);
  return createWebPushSender({ vapid, subject: config.push.subject, services: config.push.services });
}

/**
 * The server's VAPID public key (base64url), the `applicationServerKey` a device subscribes with;
 * undefined for `push.provider: none`.
 */
export async function pushApplicationServerKey(config: Config): Promise<string | undefined> {
  if (config.push.provider !== 'webpush') return undefined;
  return (await readVapidKeys(config.keys.file)).publicKey;
}

export async function openContext(config: Config, opts: OpenContextOptions = {}): Promise<Context> {
  const keyring = await loadKeyring(config.keys.file);
  const store = await openStore({
    url: config.database.url,
    keyring,
    ...(opts.migrate === undefined ? {} : { migrate: opts.migrate }),
  });
  try {
    const passwords = argon2Hasher();
    const core = createCore({
      store,
      clock: systemClock,
      random: systemRandom,
      passwords,
      keyedHasher: hmacHasher(keyring.pepper),
      serverName: config.server.serverName,
      sms: smsSender(config.sms),
      voice: voiceCaller(config),
      push: await pushSender(config),
      replyAttributeCheck: checkUserReplyAttribute,
      ...(opts.onAuthentication ? { onAuthentication: opts.onAuthentication } : {}),
    });
    // Closing waits (up to 10 s) for core calls still running, so their writes commit first.
    const tracked = trackInFlight(core);
    let registry: Promise<FirstFactorRegistry> | undefined;
    return {
      core: tracked.core,
      store,
      keyring,
      firstFactors: () => {
        registry ??= buildFirstFactors(config, store, passwords).catch((e: unknown) => {
          registry = undefined;
          throw e;
        });
        return registry;
      },
      close: async () => {
        await tracked.idle(10_000);
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}

async function buildFirstFactors(config: Config, store: Store, passwords: PasswordHasher): Promise<FirstFactorRegistry> {
  const [{ createLocalPasswordFirstFactor }, { createBySourceFirstFactor, createFirstFactorRegistry }, { sourceFromConfig }, { createLdapFirstFactor }] =
    await Promise.all([
      import('./core/first-factor/local-password.ts'),
      import('./core/first-factor/by-source.ts'),
      import('./directory/config.ts'),
      import('./directory/ldap-first-factor.ts'),
    ]);
  const serverName = config.server.serverName;
  const local = createLocalPasswordFirstFactor({ store, passwords, clock: systemClock, serverName });
  const directories = new Map<string, FirstFactorProvider>();
  for (const d of config.directories) directories.set(d.name, createLdapFirstFactor(await sourceFromConfig(d)));
  return createFirstFactorRegistry({
    user: createBySourceFirstFactor({ store, clock: systemClock, local, directories, serverName }),
    local,
    ...Object.fromEntries([...directories].map(([name, provider]) => [`directory:${name}`, provider])),
  });
}

export interface RunningServer {
  readonly url: string;
  close(): Promise<void>;
}

export interface StartServerOptions {
  /** Install SIGINT/SIGTERM handlers that close the server (default true). */
  readonly handleSignals?: boolean;
  /** Called after a signal-triggered shutdown finished (the CLI exits here). */
  readonly onShutdown?: (signal: NodeJS.Signals) => void;
  /** Logger to use instead of one built from `config.log`. */
  readonly logger?: Logger;
}

/** Settings that work but weaken security; each is logged at `warn` when the server starts. */
export async function insecureSettings(config: Config): Promise<string[]> {
  const warnings: string[] = [];
  const { server } = config;
  if (server.plainHttp) {
    warnings.push(
      isLoopbackHost(server.host)
        ? `INSECURE: plain HTTP (server.plainHttp) on ${server.host}: only safe behind a TLS-terminating proxy on this machine`
        : `INSECURE: plain HTTP on public address ${server.host} (server.allowInsecurePublicHttp): API keys and passcodes cross the network UNENCRYPTED`,
    );
  }
  if (config.sms.provider === 'twilio' && config.sms.twilio.baseUrl.startsWith('http:')) {
    warnings.push(`INSECURE: sms.twilio.baseUrl ${config.sms.twilio.baseUrl} is plain HTTP: the Twilio auth token and the codes cross the network UNENCRYPTED`);
  }
  for (const [key, file] of [
    ['keys.file', config.keys.file],
    ['server.tls.key', server.plainHttp ? null : server.tls.key],
  ] as const) {
    if (file === null) continue;
    const mode = await stat(file).then(
      (s) => s.mode,
      () => null,
    );
    if (mode !== null && (mode & 0o077) !== 0) {
      warnings.push(`INSECURE: ${key} ${file} is readable by other users (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${file}`);
    }
  }
  if (!server.plainHttp) {
    const pem = await readFile(server.tls.cert, 'utf8').catch(() => null);
    if (pem !== null) {
      try {
        const cert = new X509Certificate(pem);
        if (cert.subject === cert.issuer && cert.verify(cert.publicKey)) {
          warnings.push(
            `INSECURE: the certificate ${server.tls.cert} is self-signed (${cert.subject.replace(/\n/g, ', ')}): clients cannot verify this server; replace it with one issued by your CA`,
          );
        }
      } catch {
        // An unreadable certificate fails loudly when the listener starts.
      }
    }
  }
  return warnings;
}

async function readTls(config: Config): Promise<{ key: Buffer; cert: Buffer }> {
  const read = async (key: string, file: string): Promise<Buffer> => {
    try {
      return await readFile(file);
    } catch (e) {
      throw new ConfigError(
        `${key}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (create a certificate with "countersign init", or set server.plainHttp behind a TLS proxy)`,
        key,
      );
    }
  };
  return { cert: await read('server.tls.cert', config.server.tls.cert), key: await read('server.tls.key', config.server.tls.key) };
}

function displayUrl(config: Config, address: AddressInfo): string {
  const scheme = config.server.plainHttp ? 'http' : 'https';
  let host = config.server.host;
  if (host === '0.0.0.0' || host === '::' || host === '[::]') host = 'localhost';
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  return `${scheme}://${host}:${address.port}`;
}

/** Group membership in the configured directory sources, for reply attributes by group. */
async function membershipChecker(config: Config): Promise<(directory: string, username: string, group: string) => Promise<boolean>> {
  const [{ configuredSources }, { isGroupMember }] = await Promise.all([import('./directory/config.ts'), import('./directory/membership.ts')]);
  const sources = new Map((await configuredSources(config)).map((s) => [s.name, s]));
  return (directory, username, group) => {
    const s = sources.get(directory);
    if (!s) return Promise.reject(new Error(`no directory source named "${directory}"`));
    return isGroupMember(s.source, s.map, username, group);
  };
}

/** The RADIUS door on its UDP ports; a bad client setting stops the start with the setting named. */
async function startRadius(config: Config, ctx: Context, logger: Logger): Promise<import('./doors/radius/server.ts').RadiusServer> {
  const { radiusClients, startRadiusServer } = await import('./doors/radius/server.ts');
  const clients = await radiusClients(
    config.radius,
    await ctx.firstFactors(),
    (m) => logger.warn(m),
    config.directories.map((d) => d.name),
  );
  if (clients.length === 0) logger.warn('radius is enabled without clients: every packet is dropped');
  const server = await startRadiusServer({
    core: ctx.core,
    store: ctx.store,
    clock: systemClock,
    logger: logger.child({ door: 'radius' }),
    config: config.radius,
    clients,
    serverName: config.server.serverName,
    isMember: await membershipChecker(config),
  });
  logger.info({ addresses: server.addresses }, 'radius listening');
  return server;
}

/**
 * The synchronization service of the configured directories, for the server and the CLI. The
 * options add the actor of scheduled runs and what to do with failures and finished runs.
 */
export async function openDirectorySync(
  config: Config,
  ctx: Context,
  options: Pick<import('./directory/sync-service.ts').SyncServiceOptions, 'systemActor' | 'onError' | 'onRunFinished'>,
): Promise<import('./directory/sync-service.ts').SyncService> {
  const [{ syncTargetsFromConfig }, { createSyncService, nodeName }] = await Promise.all([
    import('./directory/config.ts'),
    import('./directory/sync-service.ts'),
  ]);
  return createSyncService({
    core: ctx.core,
    store: ctx.store,
    clock: systemClock,
    random: systemRandom,
    node: nodeName(),
    targets: await syncTargetsFromConfig(config),
    ...options,
  });
}

/** The directory synchronization service with its scheduler running; failures are logged, never fatal. */
async function startDirectorySync(config: Config, ctx: Context, logger: Logger): Promise<import('./directory/sync-service.ts').SyncService> {
  const service = await openDirectorySync(config, ctx, {
    systemActor: { kind: 'system', name: 'directory-sync', role: 'admin' },
    onError: (err, context) => logger.error({ err }, context),
    onRunFinished: (run) => {
      const line = {
        directory: run.directory,
        run: run.id,
        status: run.status,
        mode: run.mode,
        ...run.counts,
        durationMs: (run.finishedAt ?? run.startedAt) - run.startedAt,
      };
      if (run.status === 'completed') logger.info(line, 'directory synchronized');
      else if (run.status === 'awaiting_approval')
        logger.warn(
          { ...line, pending: run.pending.length },
          'directory synchronization waits for approval: more users would be disabled or removed than the threshold allows',
        );
      else logger.error({ ...line, failure: run.failure }, 'directory synchronization failed');
    },
  });
  service.startScheduler();
  return service;
}

/** The configured directory sources for the API: list, test, search, import. */
async function directoryService(config: Config, ctx: Context): Promise<import('./directory/directory-service.ts').DirectoryService> {
  const [{ configuredSources }, { createDirectoryService }] = await Promise.all([import('./directory/config.ts'), import('./directory/directory-service.ts')]);
  return createDirectoryService({ core: ctx.core, store: ctx.store, sources: await configuredSources(config) });
}

/** The portal's and the console's first factors by their configured names; an unknown name stops the start, naming the choices. */
async function pageFirstFactors(config: Config, ctx: Context): Promise<Pick<import('./doors/http/app.ts').HttpAppOptions, 'portal' | 'console'>> {
  const registry = await ctx.firstFactors();
  const resolve = (key: string, name: string): FirstFactorProvider => {
    try {
      return registry.resolve(name);
    } catch (e) {
      throw new ConfigError(`${key}: ${(e as Error).message}`, key);
    }
  };
  return {
    portal: config.portal.enabled
      ? { enabled: true, firstFactor: resolve('portal.firstFactor', config.portal.firstFactor), signInPerMinute: config.portal.signInPerMinute }
      : { enabled: false },
    console: config.console.enabled ? { enabled: true, firstFactor: resolve('console.firstFactor', config.console.firstFactor) } : { enabled: false },
  };
}

/** The web gateway's options; each site's application is created on first start if missing. */
async function gatewayOptions(config: Config, ctx: Context): Promise<NonNullable<import('./doors/http/app.ts').HttpAppOptions['gateway']>> {
  const g = config.gateway;
  const registry = await ctx.firstFactors();
  let firstFactor: FirstFactorProvider;
  try {
    firstFactor = registry.resolve(g.firstFactor);
  } catch (e) {
    throw new ConfigError(`gateway.firstFactor: ${(e as Error).message}`, 'gateway.firstFactor');
  }
  if (g.cookieDomain !== '' && g.url === '')
    throw new ConfigError('gateway.url: required with gateway.cookieDomain (the one sign-in address for every site)', 'gateway.url');
  const sites = await Promise.all(
    g.sites.map(async (s, i) => {
      const { proxy: _proxy, denialPage, ...site } = s;
      let denialHtml: string | undefined;
      if (denialPage !== '') {
        try {
          denialHtml = await readFile(denialPage, 'utf8');
        } catch (e) {
          throw new ConfigError(
            `gateway.sites[${i}].denialPage: cannot read ${denialPage}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
            'gateway.sites',
          );
        }
      }
      return { ...site, application: s.application ?? s.name, denialHtml };
    }),
  );
  try {
    compileSites(sites);
  } catch (e) {
    throw new ConfigError((e as Error).message, 'gateway.sites');
  }
  const directories = new Set(config.directories.map((d) => d.name));
  for (const [i, s] of g.sites.entries()) {
    for (const group of s.groups) {
      if (!directories.has(group.directory))
        throw new ConfigError(
          `gateway.sites[${i}].groups: no directory source named "${group.directory}" (configured: ${[...directories].join(', ') || 'none'})`,
          'gateway.sites',
        );
    }
  }
  const membership = g.sites.some((s) => s.groups.length > 0) ? await membershipChecker(config) : undefined;
  const system = { kind: 'system', name: 'gateway', role: 'admin' } as const;
  for (const site of sites) {
    try {
      await ctx.core.applications.get(site.application);
    } catch (e) {
      if (!isCoreError(e, 'application_not_found')) throw e;
      await ctx.core.applications.create({ name: site.application, requireUserMatch: true }, system);
    }
  }
  return {
    firstFactor,
    proxies: [...g.proxies],
    sites,
    url: g.url || undefined,
    cookieDomain: g.cookieDomain || undefined,
    signInPerMinute: g.signInPerMinute,
    decisionCacheMs: g.decisionCacheMs,
    membership,
  };
}

/** The built-in reverse proxies of the gateway's sites that have one. */
async function startGatewayProxies(
  config: Config,
  gateway: NonNullable<import('./doors/http/app.ts').HttpAppOptions['gateway']>,
  ctx: Context,
  logger: Logger,
  https: { key: Buffer; cert: Buffer } | undefined,
): Promise<import('fastify').FastifyInstance[]> {
  const { startProxy } = await import('./doors/http/gateway/proxy.ts');
  const started: import('fastify').FastifyInstance[] = [];
  try {
    for (const [i, s] of config.gateway.sites.entries()) {
      if (!s.proxy) continue;
      const p = s.proxy;
      const colon = p.listen.lastIndexOf(':');
      const host = p.listen.slice(0, colon).replace(/^\[|\]$/g, '');
      const port = Number(p.listen.slice(colon + 1));
      if (p.mode === 'form' && !p.form) throw new ConfigError(`gateway.sites[${i}].proxy.form: required with mode form (at least loginPath)`, 'gateway.sites');
      if (p.tls && !https)
        throw new ConfigError(
          `gateway.sites[${i}].proxy.tls: needs the server certificate, which server.plainHttp turns off; set tls: false behind a TLS load balancer`,
          'gateway.sites',
        );
      const site = gateway.sites[i] as (typeof gateway.sites)[number];
      started.push(
        await startProxy({
          core: ctx.core,
          firstFactor: gateway.firstFactor as FirstFactorProvider,
          clock: systemClock,
          keyedHasher: hmacHasher(ctx.keyring.pepper),
          site,
          proxy: { host, port, upstream: p.upstream, mode: p.mode, ...(p.form ? { form: p.form } : {}), basicCheckFirstFactor: p.basicCheckFirstFactor },
          proxies: gateway.proxies,
          signInPerMinute: gateway.signInPerMinute,
          decisionCacheMs: gateway.decisionCacheMs,
          membership: gateway.membership,
          https: p.tls ? https : undefined,
          logger: logger.child({ site: s.name }),
        }),
      );
      logger.info({ site: s.name, listen: p.listen, upstream: p.upstream, mode: p.mode }, 'gateway proxy listening');
    }
  } catch (e) {
    await Promise.all(started.map((a) => a.close()));
    throw e;
  }
  return started;
}

export async function startServer(config: Config, opts: StartServerOptions = {}): Promise<RunningServer> {
  const [{ createLogger }, { createMetrics }] = await Promise.all([import('./ops/logger.ts'), import('./ops/metrics.ts')]);
  const logger = opts.logger ?? createLogger({ level: config.log.level, pretty: config.log.pretty ?? false });
  for (const warning of await insecureSettings(config)) logger.warn(warning);

  const metrics = createMetrics();
  const https = config.server.plainHttp ? undefined : await readTls(config);
  const ctx = await openContext(config, { onAuthentication: metrics.observeAuthentication });

  let app;
  let gatewayProxies: import('fastify').FastifyInstance[] = [];
  let directorySync: import('./directory/sync-service.ts').SyncService | undefined;
  let radius: import('./doors/radius/server.ts').RadiusServer | undefined;
  try {
    if (config.radius.enabled) {
      radius = await startRadius(config, ctx, logger);
      metrics.watchRadius(radius.stats);
    }
    const directories = config.directories.length > 0 ? await directoryService(config, ctx) : undefined;
    if (config.directories.some((d) => d.sync !== undefined)) directorySync = await startDirectorySync(config, ctx, logger);
    const { buildHttpApp } = await import('./doors/http/app.ts');
    const gateway = config.gateway.enabled ? await gatewayOptions(config, ctx) : undefined;
    app = await buildHttpApp({
      core: ctx.core,
      logger,
      metrics,
      ...(https ? { https } : {}),
      trustProxy: [...config.server.trustProxy],
      rateLimit: { ...config.rateLimit },
      metricsAllowFrom: [...config.metrics.allowFrom],
      ready: () => ctx.store.ping(),
      ...(directories ? { directories } : {}),
      ...(directorySync ? { directorySync } : {}),
      ...(await pageFirstFactors(config, ctx)),
      ...(gateway ? { gateway } : {}),
      ...(config.voice.provider === 'twilio' ? { voice: { authToken: config.sms.twilio.authToken, callbackUrl: config.voice.callbackUrl } } : {}),
      mobile: { vapidPublicKey: (await pushApplicationServerKey(config)) ?? null },
    });
    await app.listen({ host: config.server.host, port: config.server.port });
    if (gateway) gatewayProxies = await startGatewayProxies(config, gateway, ctx, logger, https);
  } catch (e) {
    await app?.close().catch(() => undefined);
    await radius?.close();
    await directorySync?.stop();
    await ctx.close();
    throw e;
  }

  // Housekeeping every 10 minutes: what the retention settings no longer keep, and sign-in sessions
  // past their end (refused on use anyway), are deleted.
  const housekeeping = setInterval(() => {
    ctx.core.retention.prune(RETENTION_ACTOR).then(
      (done) => {
        if (done.authentications + done.auditEvents + done.sessions > 0) logger.info({ ...done }, 'retention: deleted old records');
      },
      (err: unknown) => logger.warn({ err }, 'retention: could not delete old records'),
    );
  }, 600_000);
  housekeeping.unref();

  const url = displayUrl(config, app.server.address() as AddressInfo);
  logger.info({ url, startupMs: Math.round(performance.now()), store: ctx.store.dialect, serverName: config.server.serverName }, 'ready');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      removeSignalHandlers();
      clearInterval(housekeeping);
      try {
        await app.close();
        await Promise.all(gatewayProxies.map((p) => p.close()));
        await radius?.close();
        // Running synchronizations are aborted and recorded before the store closes.
        await directorySync?.stop();
      } finally {
        await ctx.close();
      }
      logger.info('stopped');
    })();
    return closing;
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      logger.warn({ signal }, 'second signal during shutdown; exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down');
    close().then(
      () => opts.onShutdown?.(signal),
      (e: unknown) => {
        logger.error({ err: e }, 'error during shutdown');
        process.exitCode = 1;
        opts.onShutdown?.(signal);
      },
    );
  };
  const removeSignalHandlers = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  if (opts.handleSignals ?? true) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  return { url, close };
}
