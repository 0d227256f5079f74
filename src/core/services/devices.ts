/**
 * Mobile devices of the push method: activation, signed requests, pending requests and answers.
 *
 * Activation: an administrator or the user (portal) starts it; a pending push method is created
 * and the activation code `<method id>.<secret>` is shown once (as a QR code in the portal). Only
 * a keyed hash of the secret is kept; the code works once, for 10 minutes. The app sends the code
 * with its new public key (ECDSA P-256, made on the device, never leaving it) and, when it has one,
 * its Web Push subscription.
 *
 * Every later request of the device is signed: `<device id>.<time ms>.<signature>` over
 * `METHOD \n PATH \n time \n SHA-256(body)`, the signature ECDSA P-256 / SHA-256 in the IEEE P1363
 * form WebCrypto makes, the time within 5 minutes of the server's clock.
 */
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import type { Actor } from '../api.ts';
import type { Audit } from '../audit.ts';
import type { Engine, OutOfBandResponse } from '../auth/engine.ts';
import { CoreError } from '../errors.ts';
import { decodeDevice, encodeDevice } from '../methods/push.ts';
import type { PolicyCache } from '../policy-cache.ts';
import type { Clock, KeyedHasher, PushSubscription, Random, Store } from '../ports.ts';
import type { DeviceRequest, MethodRecord, User } from '../types.ts';
import { NO_OATH } from '../methods/method.ts';
import { invalid, validateText } from '../validation.ts';

export const ACTIVATION_SECONDS = 600;
export const SIGNATURE_SKEW_MS = 300_000;
/** Most signed requests remembered as used; past it the oldest are forgotten first. */
const MAX_REMEMBERED_SIGNATURES = 500_000;

/**
 * Signed requests already accepted, each until its signed time is out of the accepted window, so
 * that a captured request cannot be sent again. Kept by the hash of the device, what was signed and
 * the signature's r (its first half): (r, s) and (r, n - s) are both valid for one message, so the
 * whole signature would let a replay through in its other form, while each signing by the device
 * draws a new r. In memory, per server process.
 */
class UsedSignatures {
  readonly #until = new Map<string, number>();

  /** True the first time `key` is seen while it is valid; records it until `until`. */
  firstUse(key: string, until: number, now: number): boolean {
    // Entries go in roughly in time order: drop expired ones from the front as we go.
    for (const [oldest, expiry] of this.#until) {
      if (expiry >= now && this.#until.size < MAX_REMEMBERED_SIGNATURES) break;
      this.#until.delete(oldest);
    }
    const seen = this.#until.get(key);
    if (seen !== undefined && seen >= now) return false;
    this.#until.set(key, until);
    return true;
  }
}

export interface DeviceActivation {
  /** `<device id>.<secret>`, shown once. */
  readonly activationCode: string;
  readonly expiresAt: number;
}

export interface ActivateDeviceInput {
  readonly activationCode: string;
  /** SPKI DER of an ECDSA P-256 public key, base64url. */
  readonly publicKey: string;
  /** What the user calls the device ("Alice's phone"). */
  readonly name: string;
  readonly subscription?: PushSubscription | null;
}

export interface SignedRequest {
  /** The Authorization header's credentials: `<device id>.<time ms>.<signature base64url>`. */
  readonly credentials: string;
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

export interface DeviceView {
  readonly id: string;
  readonly username: string;
  readonly name: string;
}

export interface DevicesDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly random: Random;
  readonly keyedHasher: KeyedHasher;
  readonly audit: Audit;
  readonly policy: PolicyCache;
  readonly engine: Engine;
  readonly find: (username: string, changedBy?: Actor) => Promise<User>;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** The device's P-256 public key; `invalid` when it is not one. */
function publicKeyOf(text: unknown): KeyObject {
  if (typeof text !== 'string' || text.length > 400 || !B64URL.test(text))
    throw invalid('publicKey', 'must be an ECDSA P-256 public key (SPKI DER, base64url)');
  try {
    const key = createPublicKey({ key: Buffer.from(text, 'base64url'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return key;
  } catch {
    // Not a key at all: the same error.
  }
  throw invalid('publicKey', 'must be an ECDSA P-256 public key (SPKI DER, base64url)');
}

/** A push subscription as the browser gives it; `invalid` names the field. */
export function checkSubscription(value: unknown): PushSubscription | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object') throw invalid('subscription', 'must be a push subscription object');
  const v = value as { endpoint?: unknown; keys?: { p256dh?: unknown; auth?: unknown } };
  let url: URL | undefined;
  try {
    url = typeof v.endpoint === 'string' && v.endpoint.length <= 2048 ? new URL(v.endpoint) : undefined;
  } catch {
    url = undefined;
  }
  // Push services are https; plain http only on loopback (a push service on this machine).
  const loopback = url !== undefined && (url.hostname === '127.0.0.1' || url.hostname === '[::1]' || url.hostname === 'localhost');
  if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) throw invalid('subscription.endpoint', 'must be an https URL');
  const p256dh = v.keys?.p256dh;
  const auth = v.keys?.auth;
  if (typeof p256dh !== 'string' || !B64URL.test(p256dh.replace(/=+$/, '')) || Buffer.from(p256dh, 'base64url').length !== 65)
    throw invalid('subscription.keys.p256dh', 'must be a P-256 point (65 octets, base64url)');
  if (typeof auth !== 'string' || !B64URL.test(auth.replace(/=+$/, '')) || Buffer.from(auth, 'base64url').length !== 16)
    throw invalid('subscription.keys.auth', 'must be 16 octets, base64url');
  return { endpoint: url.href, keys: { p256dh, auth } };
}

export function createDevicesService(deps: DevicesDeps) {
  const { store, clock, random, keyedHasher, audit, engine } = deps;
  const failed = (): CoreError => new CoreError('activation_failed', 'this activation code is not valid: wrong, used or expired');
  const refused = (): CoreError => new CoreError('forbidden', 'the device signature is not valid');
  const used = new UsedSignatures();

  /** The active device `id`; undefined when there is none. */
  async function device(id: string): Promise<MethodRecord | undefined> {
    const method = typeof id === 'string' && id.length <= 64 ? await store.methods.get(id) : undefined;
    return method && method.type === 'push' && !method.pending ? method : undefined;
  }

  return {
    async startActivation(username: string, actor: Actor): Promise<DeviceActivation> {
      const user = await deps.find(username, actor);
      const secret = Buffer.from(random.bytes(24)).toString('base64url');
      const now = clock.now();
      // One activation at a time: an earlier unfinished one stops working.
      for (const m of await store.methods.listForUser(user.id)) if (m.type === 'push' && m.pending) await store.methods.delete(m.id);
      const method = await store.methods.add(
        {
          userId: user.id,
          type: 'push',
          label: 'Mobile app (waiting for activation)',
          secret: encodeDevice({ activation: keyedHasher.digest(`activate:${secret}`) }),
          config: NO_OATH,
          pending: true,
        },
        random.id(),
        now,
      );
      await audit.admin({ action: 'device.activation', user, actor, now, details: { methodId: method.id } });
      return { activationCode: `${method.id}.${secret}`, expiresAt: now + ACTIVATION_SECONDS * 1000 };
    },

    async activate(input: ActivateDeviceInput, actor: Actor): Promise<DeviceView> {
      if (typeof input !== 'object' || input === null) throw invalid('body', 'must be an object');
      const key = publicKeyOf(input.publicKey);
      const name = validateText(input.name, 'name', 64, { required: true }) as string;
      const subscription = checkSubscription(input.subscription);
      const code = typeof input.activationCode === 'string' && input.activationCode.length <= 128 ? input.activationCode : '';
      const dot = code.indexOf('.');
      const method = dot > 0 ? await store.methods.get(code.slice(0, dot)) : undefined;
      const now = clock.now();
      const hash = method ? decodeDevice(method).activation : undefined;
      if (!method || method.type !== 'push' || !method.pending || hash === undefined || now >= method.createdAt + ACTIVATION_SECONDS * 1000) throw failed();
      if (!keyedHasher.matches(`activate:${code.slice(dot + 1)}`, hash)) throw failed();
      const publicKey = key.export({ format: 'der', type: 'spki' }).toString('base64url');
      if (!(await store.methods.activate(method.id, encodeDevice({ publicKey, subscription }), name, now))) throw failed();
      const user = await store.users.getById(method.userId);
      await audit.admin({ action: 'method.enroll', user, actor, now, details: { methodId: method.id, type: 'push', name, push: subscription !== null } });
      return { id: method.id, username: user?.username ?? '', name };
    },

    /** The device that signed this request; `forbidden` for a bad or stale signature or an unknown device. */
    async authenticate(request: SignedRequest): Promise<DeviceView> {
      const parts = typeof request.credentials === 'string' && request.credentials.length <= 400 ? request.credentials.split('.') : [];
      if (parts.length !== 3) throw refused();
      const [id, time, signature] = parts as [string, string, string];
      const at = /^[0-9]{1,15}$/.test(time) ? Number(time) : Number.NaN;
      if (!Number.isFinite(at) || Math.abs(clock.now() - at) > SIGNATURE_SKEW_MS || !B64URL.test(signature)) throw refused();
      const method = await device(id);
      const publicKey = method ? decodeDevice(method).publicKey : undefined;
      if (!method || publicKey === undefined) throw refused();
      const digest = createHash('sha256').update(request.body, 'utf8').digest('base64url');
      const signed = Buffer.from(`${request.method.toUpperCase()}\n${request.path}\n${time}\n${digest}`, 'utf8');
      const key = createPublicKey({ key: Buffer.from(publicKey, 'base64url'), format: 'der', type: 'spki' });
      if (!verifySignature('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'))) throw refused();
      const r = Buffer.from(signature, 'base64url').subarray(0, 32);
      const once = createHash('sha256').update(id).update('\n').update(signed).update('\n').update(r).digest('base64url');
      if (!used.firstUse(once, at + SIGNATURE_SKEW_MS, clock.now())) throw refused();
      const user = await store.users.getById(method.userId);
      if (!user) throw refused();
      return { id: method.id, username: user.username, name: method.label };
    },

    requests: (deviceId: string): Promise<DeviceRequest[]> => engine.deviceRequests(deviceId),

    async answer(
      deviceId: string,
      authenticationId: string,
      input: { decision?: unknown; number?: unknown },
      actor: Actor,
    ): Promise<{ state: 'approved' | 'denied' }> {
      const decision = input.decision;
      if (decision !== 'approve' && decision !== 'deny' && decision !== 'fraud') throw invalid('decision', 'must be approve, deny or fraud');
      const number = input.number;
      if (decision === 'approve' && (typeof number !== 'number' || !Number.isInteger(number))) throw invalid('number', 'must be the number picked');
      const response: OutOfBandResponse = decision === 'deny' ? 'decline' : decision;
      const outcome = await engine.answerDevice(authenticationId, deviceId, response, typeof number === 'number' ? number : null, actor);
      return { state: outcome.view.state === 'approved' ? 'approved' : 'denied' };
    },

    async setSubscription(deviceId: string, value: unknown): Promise<void> {
      const subscription = checkSubscription(value);
      const method = await device(deviceId);
      if (!method || !(await store.methods.replaceSecret(method.id, encodeDevice({ ...decodeDevice(method), subscription })))) throw refused();
    },
  };
}

export type DevicesService = ReturnType<typeof createDevicesService>;
