/**
 * The HTTP door: REST API v1 (the successor of MFA Server's Web Service SDK) and the operations
 * endpoints. Routes translate HTTP to core calls and back; they never touch storage.
 *
 *   /healthz, /readyz, /metrics      operations, no API key (metrics from allowed addresses only)
 *   /api/v1/openapi.json             OpenAPI 3.1, generated from the route schemas
 *   /api/v1/docs                     browsable documentation
 *   /api/v1/...                      the API: Bearer API key, rate limits and roles (see auth.ts)
 *   /api/v1/directories/...          directory sources (the `directories` service) and their
 *                                    synchronization (the `directorySync` service)
 *   /portal/...                      the user portal: server-rendered pages (portal/)
 *   /admin/...                       the admin console: a single-page app and its sign-in (console/)
 *   /gateway/...                     the web gateway: forward-auth decisions for reverse proxies and their sign-in pages (gateway/)
 *   /voice/v1/calls/...              Twilio's signed webhooks for the calls of the phone-call method (voice.ts)
 *   /mobile/v1/...                   the push method's app API, device-signed requests (mobile/)
 *
 * Every response carries `x-request-id`, `x-content-type-options: nosniff` and
 * `cache-control: no-store`; errors are `application/problem+json` (see errors.ts).
 */
import { SerializerSelector, type RouteDefinition, type Serializer } from '@fastify/fast-json-stringify-compiler';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController } from 'fastify';
import type { FastifyInstance, FastifySerializerCompiler, FastifyReply, FastifyRequest, FastifyServerOptions, RouteOptions } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Core } from '../../core/api.ts';
import type { Clock, FirstFactorProvider } from '../../core/ports.ts';
import { systemClock } from '../../platform/clock.ts';
import type { DirectoryService } from '../../directory/directory-service.ts';
import type { SyncService } from '../../directory/sync-service.ts';
import type { Metrics } from '../../ops/metrics.ts';
import { systemRandom } from '../../platform/random.ts';
import { applicationsRoutes } from './api/applications.ts';
import { apiKeysRoutes } from './api/api-keys.ts';
import { auditRoutes } from './api/audit.ts';
import { authenticationsRoutes } from './api/authentications.ts';
import { bypassRoutes } from './api/bypass.ts';
import { directoriesRoutes } from './api/directories.ts';
import { methodsRoutes } from './api/methods.ts';
import { reportsRoutes } from './api/reports.ts';
import { settingsRoutes } from './api/settings.ts';
import { tokensRoutes } from './api/tokens.ts';
import { usersRoutes } from './api/users.ts';
import { createAccessHook } from './auth.ts';
import { JSON_BODY_LIMIT, registerTextParsers } from './bodies.ts';
import { installErrorHandling } from './errors.ts';
import { opsRoutes } from './ops.ts';
import { Problem } from './schemas.ts';
import type { Api } from './schemas.ts';

export interface HttpAppOptions {
  readonly core: Core;
  readonly logger: Logger | false;
  readonly metrics: Metrics;
  /** Serve HTTPS with this key and certificate (PEM). */
  readonly https?: { readonly key: string | Buffer; readonly cert: string | Buffer };
  /** Proxies whose X-Forwarded-For is believed (addresses or CIDRs). Empty: none. */
  readonly trustProxy: string[];
  /** Requests per minute per API key, and per client address for requests without a valid key. 0 = no limit. */
  readonly rateLimit: { readonly perKeyPerMinute: number; readonly perAddressPerMinute: number };
  /** Besides loopback, addresses or CIDRs that may read /metrics. */
  readonly metricsAllowFrom: string[];
  /** Readiness check for /readyz; throws when not ready. */
  readonly ready: () => Promise<void>;
  /** The configured directory sources behind /api/v1/directories (list, test, search, import); absent: none is configured. */
  readonly directories?: DirectoryService;
  /** Directory synchronization behind /api/v1/directories; absent: those routes answer that no directory is synchronized. */
  readonly directorySync?: SyncService;
  /** The first factor of portal and console sign-in (the `user` provider: directory bind or local password); absent: neither is served. */
  readonly firstFactor?: FirstFactorProvider;
  /** The user portal: off with enabled false; its own first factor and sign-in rate (defaults: firstFactor, 20 a minute). */
  readonly portal?: { readonly enabled?: boolean; readonly firstFactor?: FirstFactorProvider; readonly signInPerMinute?: number };
  /** The admin console: off with enabled false; its own first factor (default: firstFactor). */
  readonly console?: { readonly enabled?: boolean; readonly firstFactor?: FirstFactorProvider };
  /** The web gateway's forward-auth door at /gateway (sites, proxies, cookie scope); absent: not served. Its first factor defaults to firstFactor. */
  readonly gateway?: Omit<import('./gateway/index.ts').GatewayOptions, 'core' | 'clock' | 'firstFactor'> & { readonly firstFactor?: FirstFactorProvider };
  /** The built admin console (index.html, assets/); default dist/console under the repository root. */
  readonly consoleDir?: string;
  /** The push method's app API at /mobile: the VAPID public key devices subscribe with (null or absent: no Web Push). */
  readonly mobile?: { readonly vapidPublicKey: string | null };
  /** Twilio's webhooks for phone calls at /voice (voice.provider twilio); absent: not served. */
  readonly voice?: { readonly authToken: string; readonly callbackUrl: string };
  /** The clock of portal and console sessions (the core's clock; tests pass a fake one). */
  readonly clock?: Clock;
}

export const API_PREFIX = '/api/v1';

/** A registered route: method, URL and the roles that may call it (undefined outside the API). */
export interface RouteInfo {
  readonly method: string;
  readonly url: string;
  readonly roles: readonly string[] | undefined;
  readonly hidden: boolean;
}

const ROUTES = new WeakMap<object, RouteInfo[]>();

/** Every route of an app built by buildHttpApp, in registration order (HEAD twins excluded). */
export function routesOf(app: FastifyInstance): readonly RouteInfo[] {
  return ROUTES.get(app) ?? [];
}
const DOCS_PREFIX = `${API_PREFIX}/docs`;
/** Pages that set their own headers (a page CSP instead of the API's). */
const PAGE_PREFIXES = ['/portal', '/admin', '/gateway'];
const isPage = (url: string): boolean => PAGE_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`) || url.startsWith(`${p}?`));

/** Request ids: a caller's x-request-id when it is a short token, else a new unique id. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : systemRandom.id();
}

/** One info line per finished request; the incoming line only at debug level. */
class RequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, 'incoming request');
  }
}

const API_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
};
const DOCS_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

const ProblemResponse = { description: 'Problem (RFC 9457)', content: { 'application/problem+json': { schema: Problem } } };

/** "GET /api/v1/users/:username/methods" -> "getUsersByUsernameMethods". */
export function operationId(method: string, url: string): string {
  const words = url
    .replace(/^\/api\/v1/, '')
    .split('/')
    .filter((part) => part !== '')
    .map((part) => (part.startsWith(':') ? `by-${part.slice(1)}` : part))
    .flatMap((part) => part.split(/[^A-Za-z0-9]+/))
    .filter((w) => w !== '');
  return method.toLowerCase() + words.map((w) => w[0]?.toUpperCase() + w.slice(1)).join('');
}

/** OpenAPI: every operation gets an operationId, its roles and its problem responses. */
function documentRoute({ schema, url, route }: { schema: RouteOptions['schema']; url: string; route: RouteOptions }): {
  schema: NonNullable<RouteOptions['schema']>;
  url: string;
} {
  const s: Record<string, unknown> = { ...(schema ?? {}) };
  s['operationId'] ??= operationId([route.method].flat()[0] ?? 'get', route.url);
  const roles = route.config?.roles;
  if (roles !== undefined) {
    s['description'] = [s['description'], `Roles: ${roles.join(', ')}.`].filter((x) => typeof x === 'string' && x !== '').join('\n\n');
  }
  s['response'] = { ...(s['response'] as object | undefined), '4xx': ProblemResponse, '5xx': ProblemResponse };
  return { schema: s, url };
}

export async function buildHttpApp(opts: HttpAppOptions): Promise<FastifyInstance> {
  const options: FastifyServerOptions & { https?: HttpAppOptions['https'] } = {
    trustProxy: opts.trustProxy.length > 0 ? [...opts.trustProxy] : false,
    bodyLimit: JSON_BODY_LIMIT,
    routerOptions: { maxParamLength: 512 },
    genReqId: requestId,
    logController: new RequestLog(),
    return503OnClosing: true,
    ...(opts.logger === false ? { logger: false } : { loggerInstance: opts.logger }),
    ...(opts.https ? { https: { key: opts.https.key, cert: opts.https.cert } } : {}),
  };
  const app = (Fastify(options) as unknown as FastifyInstance).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  app.setSerializerCompiler(lazySerializers());
  installErrorHandling(app);
  registerTextParsers(app);

  const routes: RouteInfo[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      const hidden = route.schema?.hide === true;
      routes.push({ method, url: route.url, roles: route.config?.roles, hidden });
    }
  });

  // Security headers and the request id on every response.
  const hsts = opts.https ? { 'strict-transport-security': 'max-age=31536000' } : {};
  const apiHeaders = { ...API_HEADERS, ...hsts };
  const docsHeaders = { ...DOCS_HEADERS, ...hsts };
  app.decorateRequest('actor', null);
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    if (isPage(request.url)) reply.headers(hsts);
    else reply.headers(request.url.startsWith(DOCS_PREFIX) ? docsHeaders : apiHeaders);
    reply.header('x-request-id', request.id);
    done();
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Countersign REST API',
        version: '1.0.0',
        description:
          'Multifactor authentication server API. Authenticate with `Authorization: Bearer <API key>`. ' +
          'Errors are application/problem+json with a stable `code`.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'API key: cs_<id>_<secret>' },
          consoleSession: {
            type: 'apiKey',
            in: 'cookie',
            name: '__Host-cs_console',
            description:
              "Admin console session (sign in at /admin), used when no Authorization header is sent; the role is the user's console role. " +
              'Requests other than GET, HEAD and OPTIONS also need csrfToken.',
          },
          csrfToken: {
            type: 'apiKey',
            in: 'header',
            name: 'x-csrf-token',
            description: "The console session's anti-forgery token (`csrf` of GET /admin/session)",
          },
        },
      },
      security: [{ apiKey: [] }, { consoleSession: [], csrfToken: [] }],
    },
    transform: documentRoute,
  });

  await app.register(opsRoutes, { metrics: opts.metrics, metricsAllowFrom: opts.metricsAllowFrom, ready: opts.ready });
  await app.register(cookie);

  const portalFirstFactor = opts.portal?.firstFactor ?? opts.firstFactor;
  if (portalFirstFactor && opts.portal?.enabled !== false) {
    const { portalDoor } = await import('./portal/index.ts');
    await app.register(portalDoor, {
      prefix: '/portal',
      core: opts.core,
      firstFactor: portalFirstFactor,
      clock: opts.clock ?? systemClock,
      https: opts.https !== undefined,
      ...(opts.portal?.signInPerMinute !== undefined ? { signInPerMinute: opts.portal.signInPerMinute } : {}),
    });
  }
  const consoleFirstFactor = opts.console?.firstFactor ?? opts.firstFactor;
  if (consoleFirstFactor && opts.console?.enabled !== false) {
    const { builtConsoleDir, consoleDoor } = await import('./console/index.ts');
    await app.register(consoleDoor, {
      prefix: '/admin',
      core: opts.core,
      firstFactor: consoleFirstFactor,
      https: opts.https !== undefined,
      staticDir: opts.consoleDir ?? builtConsoleDir(import.meta.url),
    });
  }

  const gatewayFirstFactor = opts.gateway?.firstFactor ?? opts.firstFactor;
  if (opts.gateway && gatewayFirstFactor) {
    const { gatewayDoor } = await import('./gateway/index.ts');
    await app.register(gatewayDoor, {
      ...opts.gateway,
      prefix: '/gateway',
      core: opts.core,
      firstFactor: gatewayFirstFactor,
      clock: opts.clock ?? systemClock,
      onDecision: opts.metrics.observeGatewayDecision,
    });
  }

  {
    const { mobileDoor } = await import('./mobile/index.ts');
    await app.register(mobileDoor, {
      prefix: '/mobile',
      core: opts.core,
      vapidPublicKey: opts.mobile?.vapidPublicKey ?? null,
      clock: opts.clock ?? systemClock,
    });
  }

  if (opts.voice) {
    const { voiceDoor } = await import('./voice.ts');
    await app.register(voiceDoor, { prefix: '/voice', core: opts.core, authToken: opts.voice.authToken, callbackUrl: opts.voice.callbackUrl });
  }

  const access = createAccessHook({ core: opts.core, rateLimit: opts.rateLimit });
  await app.register(
    async (api: Api) => {
      api.addHook('onRequest', access);
      const deps = { core: opts.core };
      await api.register(usersRoutes, deps);
      await api.register(methodsRoutes, deps);
      await api.register(tokensRoutes, deps);
      await api.register(authenticationsRoutes, deps);
      await api.register(bypassRoutes, deps);
      await api.register(auditRoutes, deps);
      await api.register(settingsRoutes, deps);
      await api.register(applicationsRoutes, deps);
      await api.register(apiKeysRoutes, deps);
      await api.register(reportsRoutes, deps);
      await api.register(directoriesRoutes, { directories: opts.directories, directorySync: opts.directorySync });
    },
    { prefix: API_PREFIX },
  );

  app.get(`${API_PREFIX}/openapi.json`, { schema: { hide: true } }, async (_request, reply) =>
    reply.type('application/json; charset=utf-8').send(app.swagger()),
  );
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX, staticCSP: true, uiConfig: { url: `${API_PREFIX}/openapi.json` } });

  return app;
}

/**
 * Response serializers compiled on a route's first response instead of all at start-up (compiling
 * every route's serializer took about a third of the time to ready).
 */
function lazySerializers(): FastifySerializerCompiler<unknown> {
  const build = SerializerSelector()(undefined, {});
  return (route) => {
    let serialize: Serializer | undefined;
    return (doc) => (serialize ??= build(route as RouteDefinition))(doc);
  };
}
