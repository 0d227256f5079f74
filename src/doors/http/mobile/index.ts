/**
 * The mobile door: the API of Countersign Authenticator, the push method's app (the successor of
 * MFA Server's Mobile App Web Service).
 *
 *   GET  /mobile/v1/config              public: what the app needs to subscribe to push (VAPID key)
 *   POST /mobile/v1/devices             activation: { activationCode, publicKey, name, subscription? } -> 201
 *   GET  /mobile/v1/requests            signed: the device's pending sign-in requests, three numbers each
 *   POST /mobile/v1/requests/{id}       signed: { decision: approve | deny | fraud, number? }
 *   PUT  /mobile/v1/subscription        signed: { subscription } (a new or withdrawn Web Push subscription)
 *   GET  /mobile/app/...                the app itself, an installable web app (app.ts, built from web/mobile)
 *
 * Signed requests carry `Authorization: CS-Device <device id>.<time ms>.<signature>`; the core
 * checks it (services/devices.ts) over the method, the path as requested and the body's SHA-256,
 * so a reverse proxy in front must pass the path through unchanged. Errors are problem+json.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor, Core, DeviceView } from '../../../core/api.ts';
import { CoreError } from '../../../core/errors.ts';
import type { Clock } from '../../../core/ports.ts';
import { builtAppDir, mobileAppRoutes } from './app.ts';

export interface MobileDoorOptions {
  readonly core: Core;
  /** The VAPID public key (base64url) the app subscribes with; null when push delivery is off. */
  readonly vapidPublicKey: string | null;
  /** Activation attempts per minute per client address. Default 20. */
  readonly activationsPerMinute?: number;
  /** The clock the activation limit counts minutes by (the core's clock). */
  readonly clock: Clock;
  /** The built app (index.html, sw.js, assets/); default dist/mobile-app under the repository root. */
  readonly appDir?: string;
}

const BODY_LIMIT = 8 * 1024;
const SCHEME = 'CS-Device ';

declare module 'fastify' {
  interface FastifyRequest {
    mobileRawBody?: string;
  }
}

const deviceActor = (d: DeviceView): Actor => ({ kind: 'user', name: d.username, role: 'self' });

export async function mobileDoor(app: FastifyInstance, opts: MobileDoorOptions): Promise<void> {
  const { core } = opts;
  // The body as sent: the signature covers its exact bytes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    request.mobileRawBody = text;
    try {
      done(null, text === '' ? undefined : (JSON.parse(text) as unknown));
    } catch {
      done(new CoreError('validation_failed', 'The request body is not valid JSON.', { body: 'must be JSON' }), undefined);
    }
  });

  const attempts = new Map<string, { minute: number; count: number }>();
  const perMinute = opts.activationsPerMinute ?? 20;
  function limitActivation(ip: string): void {
    const minute = Math.floor(opts.clock.now() / 60_000);
    const seen = attempts.get(ip);
    const entry = seen && seen.minute === minute ? seen : { minute, count: 0 };
    entry.count++;
    attempts.set(ip, entry);
    if (attempts.size > 10_000) for (const [k, v] of attempts) if (v.minute !== minute) attempts.delete(k);
    if (entry.count > perMinute) throw new CoreError('rate_limited', 'Too many activation attempts from this address; wait a minute.');
  }

  async function signedBy(request: FastifyRequest): Promise<DeviceView> {
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith(SCHEME)) throw new CoreError('unauthenticated', 'This request must be signed by a device (Authorization: CS-Device ...).');
    return core.devices.authenticate({ credentials: header.slice(SCHEME.length), method: request.method, path: request.url, body: request.mobileRawBody ?? '' });
  }

  await app.register(mobileAppRoutes, { prefix: '/app', staticDir: opts.appDir ?? builtAppDir(import.meta.url) });

  app.get('/v1/config', { schema: { hide: true } }, async () => ({ vapidPublicKey: opts.vapidPublicKey }));

  app.post<{ Body: { activationCode?: unknown; publicKey?: unknown; name?: unknown; subscription?: unknown } | undefined }>('/v1/devices', { schema: { hide: true } }, async (request, reply) => {
    limitActivation(request.ip);
    const body = request.body ?? {};
    const device = await core.devices.activate(
      { activationCode: body.activationCode as string, publicKey: body.publicKey as string, name: body.name as string, subscription: (body.subscription ?? null) as never },
      { kind: 'system', name: 'device activation', role: 'self' },
    );
    reply.code(201);
    return { deviceId: device.id, username: device.username, name: device.name };
  });

  app.get('/v1/requests', { schema: { hide: true } }, async (request) => {
    const device = await signedBy(request);
    return { items: await core.devices.requests(device.id) };
  });

  app.post<{ Params: { id: string }; Body: { decision?: unknown; number?: unknown } | undefined }>('/v1/requests/:id', { schema: { hide: true } }, async (request) => {
    const device = await signedBy(request);
    return core.devices.answer(device.id, request.params.id, request.body ?? {}, deviceActor(device));
  });

  app.put<{ Body: { subscription?: unknown } | undefined }>('/v1/subscription', { schema: { hide: true } }, async (request, reply) => {
    const device = await signedBy(request);
    await core.devices.setSubscription(device.id, request.body?.subscription ?? null);
    return reply.code(204).send();
  });
}
