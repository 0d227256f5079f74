/**
 * Test twin of a Web Push service (RFC 8030) on loopback HTTP, playing the browser's part too.
 *
 * `subscribe()` does what PushManager.subscribe() does in a browser: it makes the device's P-256
 * key pair and 16-octet auth secret and a push resource on the twin (`{url}/wpush/<id>`), bound
 * to the server's VAPID key when one is given (a restricted subscription, RFC 8292 section 4).
 *
 * `POST <endpoint>` is answered as a push service does (errors in the JSON shape of Mozilla's
 * autopush: code, errno, error, message):
 * - 404 for an unknown push resource, 410 Gone for one the test marked expired;
 * - 401 without `Authorization: vapid t=<JWT>, k=<key>`; 403 when the JWT's ES256 signature, its
 *   `aud` (the endpoint's origin), its `exp` (in the future, at most 24 h ahead) or its `sub`
 *   (mailto: or https:) is wrong, or `k` is not the key the subscription was made with;
 * - 400 without a valid `TTL`, with an unknown `Urgency`, or a `Content-Encoding` other than
 *   aes128gcm; 413 above 4096 octets;
 * - 201 Created with a `Location` otherwise. The payload is then decrypted as the browser would
 *   (RFC 8291 key derivation, RFC 8188 records) and recorded; one that does not decrypt is
 *   recorded with its error, as a browser drops it silently.
 */
import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, verify } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PushSubscription } from '../../src/core/ports.ts';
import { startLoopbackServer } from './loopback-server.ts';

export interface PushTwinMessage {
  readonly endpoint: string;
  readonly ttl: number;
  readonly urgency: string | null;
  readonly topic: string | null;
  /** The decrypted payload (UTF-8), or null when it did not decrypt (see `error`). */
  readonly payload: string | null;
  readonly error: string | null;
  /** The verified VAPID claims and key. */
  readonly vapid: { readonly aud: string; readonly exp: number; readonly sub: string | null; readonly key: string };
}

export interface PushTwinRefusal {
  readonly status: number;
  readonly message: string;
}

export interface PushTwin {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** A new subscription, as a browser's PushSubscription.toJSON() (without expirationTime). */
  subscribe(opts?: { applicationServerKey?: string }): PushSubscription;
  /** From now on the push service answers 410 Gone for this subscription (the user unsubscribed, the app was removed). */
  expire(subscription: PushSubscription): void;
  /** Accepted messages, oldest first. */
  readonly messages: PushTwinMessage[];
  /** Refused requests (4xx), oldest first. */
  readonly refusals: PushTwinRefusal[];
  /** Delay every answer by this many milliseconds (to test timeouts). */
  delayMs: number;
  close(): Promise<void>;
}

interface Device {
  readonly ecdh: ReturnType<typeof createECDH>;
  readonly publicKey: Buffer;
  readonly auth: Buffer;
  readonly applicationServerKey: string | null;
  expired: boolean;
}

const ERRNO: Record<number, number> = { 400: 110, 401: 109, 403: 109, 404: 102, 410: 103, 413: 104 };
const URGENCIES = new Set(['very-low', 'low', 'normal', 'high']);
const MAX_PAYLOAD = 4096;
const MAX_EXP_SECONDS = 24 * 60 * 60;

class Refusal extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function header(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return typeof v === 'string' ? v : null;
}

/** Verifies `Authorization: vapid t=<JWT>, k=<key>` for a request to `origin`; returns the claims. */
function checkVapid(authorization: string | null, origin: string, nowSeconds: number): PushTwinMessage['vapid'] {
  const match = authorization === null ? null : /^vapid\s+(.*)$/i.exec(authorization.trim());
  if (match === null) throw new Refusal(401, 'Missing VAPID authorization (Authorization: vapid t=..., k=...)');
  const params = new Map<string, string>();
  for (const part of (match[1] as string).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const token = params.get('t');
  const key = params.get('k');
  if (token === undefined || key === undefined) throw new Refusal(401, 'VAPID authorization needs t= and k=');
  const point = Buffer.from(key, 'base64url');
  if (point.length !== 65 || point[0] !== 4) throw new Refusal(403, 'VAPID public key k is not an uncompressed P-256 point');
  const parts = token.split('.');
  if (parts.length !== 3) throw new Refusal(403, 'VAPID token is not a JWT');
  const [head, body, signature] = parts as [string, string, string];
  let jwtHeader: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    jwtHeader = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as Record<string, unknown>;
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new Refusal(403, 'VAPID token is not a JWT');
  }
  if (jwtHeader.alg !== 'ES256') throw new Refusal(403, `VAPID token must be signed with ES256, not ${String(jwtHeader.alg)}`);
  const publicKey = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
    format: 'jwk',
  });
  const valid = verify('sha256', Buffer.from(`${head}.${body}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
  if (!valid) throw new Refusal(403, 'VAPID token signature does not verify with k');
  if (claims.aud !== origin) throw new Refusal(403, `VAPID token aud ${JSON.stringify(claims.aud)} is not ${origin}`);
  const exp = claims.exp;
  if (typeof exp !== 'number' || !Number.isInteger(exp)) throw new Refusal(403, 'VAPID token has no exp');
  if (exp <= nowSeconds) throw new Refusal(403, 'VAPID token has expired');
  if (exp > nowSeconds + MAX_EXP_SECONDS) throw new Refusal(403, 'VAPID token exp is more than 24 hours ahead');
  const sub = claims.sub;
  if (sub !== undefined && (typeof sub !== 'string' || !/^(mailto:|https:\/\/)/.test(sub)))
    throw new Refusal(403, 'VAPID token sub must be a mailto: or https: URL');
  return { aud: origin, exp, sub: typeof sub === 'string' ? sub : null, key };
}

/** Decrypts an aes128gcm body (RFC 8188) with the keys RFC 8291 derives for the device. */
export function decryptWebPush(body: Buffer, device: { ecdh: ReturnType<typeof createECDH>; publicKey: Buffer; auth: Buffer }): string {
  if (body.length < 21) throw new Error('body shorter than the aes128gcm header');
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20] as number;
  const senderKey = body.subarray(21, 21 + idlen);
  if (rs < 18) throw new Error(`record size ${rs} is too small`);
  if (idlen !== 65) throw new Error(`keyid must be the sender's 65-octet public key, not ${idlen} octets`);
  const shared = device.ecdh.computeSecret(senderKey);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), device.publicKey, senderKey]);
  const ikm = Buffer.from(hkdfSync('sha256', shared, device.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const records = body.subarray(21 + idlen);
  const out: Buffer[] = [];
  let seq = 0;
  for (let at = 0; at < records.length; at += rs, seq++) {
    const record = records.subarray(at, at + rs);
    const last = at + rs >= records.length;
    const iv = Buffer.from(nonce);
    iv.writeUInt32BE((iv.readUInt32BE(8) ^ seq) >>> 0, 8); // the sequence number is XORed into the nonce's low octets
    const decipher = createDecipheriv('aes-128-gcm', cek, iv);
    decipher.setAuthTag(record.subarray(record.length - 16));
    const plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end--;
    if (end < 0 || plain[end] !== (last ? 2 : 1)) throw new Error(`record ${seq} has a wrong padding delimiter`);
    out.push(plain.subarray(0, end));
  }
  return Buffer.concat(out).toString('utf8');
}

export async function startPushTwin(): Promise<PushTwin> {
  const devices = new Map<string, Device>();
  const messages: PushTwinMessage[] = [];
  const refusals: PushTwinRefusal[] = [];

  function answer(res: ServerResponse, status: number, message: string): void {
    refusals.push({ status, message });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (status === 401) headers['www-authenticate'] = 'vapid';
    res.writeHead(status, headers);
    res.end(
      JSON.stringify({
        code: status,
        errno: ERRNO[status] ?? 999,
        error: status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Bad Request',
        message,
      }),
    );
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const id = /^\/wpush\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '')?.[1];
    const device = id === undefined ? undefined : devices.get(id);
    if (device === undefined) throw new Refusal(404, 'Not Found');
    if (req.method !== 'POST') throw new Refusal(404, 'Not Found');
    if (device.expired) throw new Refusal(410, 'Request did not validate: subscription expired');
    const vapid = checkVapid(header(req, 'authorization'), twin.url, Math.floor(Date.now() / 1000));
    if (device.applicationServerKey !== null && vapid.key !== device.applicationServerKey) {
      throw new Refusal(403, 'VAPID key k does not match the key the subscription was created with');
    }
    const ttlText = header(req, 'ttl');
    if (ttlText === null || !/^[0-9]+$/.test(ttlText)) throw new Refusal(400, 'Missing or invalid TTL header');
    const urgency = header(req, 'urgency');
    if (urgency !== null && !URGENCIES.has(urgency)) throw new Refusal(400, `Invalid Urgency ${urgency}`);
    if (body.length > 0 && header(req, 'content-encoding') !== 'aes128gcm') throw new Refusal(400, 'Content-Encoding must be aes128gcm');
    if (body.length > MAX_PAYLOAD) throw new Refusal(413, 'Payload too large');
    let payload: string | null = null;
    let error: string | null = null;
    try {
      payload = decryptWebPush(body, device);
    } catch (e) {
      error = (e as Error).message;
    }
    messages.push({ endpoint: `${twin.url}${req.url ?? ''}`, ttl: Number(ttlText), urgency, topic: header(req, 'topic'), payload, error, vapid });
    res.writeHead(201, { location: `${twin.url}/m/${randomBytes(12).toString('base64url')}`, ttl: ttlText });
    res.end();
  };

  const twin: PushTwin = {
    url: '',
    subscribe(opts = {}) {
      const ecdh = createECDH('prime256v1');
      const publicKey = ecdh.generateKeys();
      const auth = randomBytes(16);
      const id = randomBytes(24).toString('base64url');
      devices.set(id, { ecdh, publicKey, auth, applicationServerKey: opts.applicationServerKey ?? null, expired: false });
      return { endpoint: `${twin.url}/wpush/${id}`, keys: { p256dh: publicKey.toString('base64url'), auth: auth.toString('base64url') } };
    },
    expire(subscription) {
      const device = devices.get(subscription.endpoint.split('/').pop() ?? '');
      if (device === undefined) throw new Error('not a subscription of this twin');
      device.expired = true;
    },
    messages,
    refusals,
    delayMs: 0,
    close: () => http.close(),
  };

  const http = await startLoopbackServer(
    (req, res) => {
      handle(req, res).catch((e: unknown) => {
        if (e instanceof Refusal) answer(res, e.status, e.message);
        else answer(res, 500, String(e));
      });
    },
    () => twin.delayMs,
  );
  (twin as { url: string }).url = http.url;
  return twin;
}
