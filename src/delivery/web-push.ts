/**
 * Push notifications through the device's push service (Web Push: RFC 8030 delivery, RFC 8291
 * aes128gcm payload encryption, RFC 8292 VAPID authentication). The `web-push` package encrypts
 * the payload and signs the VAPID token; the request itself is sent here, so that the timeout,
 * the refusal of redirects and the errors are ours.
 *
 * `POST {subscription.endpoint}` with `TTL`, `Urgency: high`, `Content-Encoding: aes128gcm` and
 * `Authorization: vapid t=<JWT>, k=<public key>`. The push service answers 201 Created (202 with a
 * receipt) when it accepted the message, 404 or 410 when the subscription no longer exists; any
 * other answer, a network failure or no answer within the timeout throws, naming the push
 * service's host, the status and its text (never the keys, nor the endpoint's secret path).
 *
 * The endpoint comes from the device, so it is checked before anything is sent: HTTPS to one of
 * the configured push service hosts only.
 */
import { createECDH } from 'node:crypto';
import webpush from 'web-push';
import type { PushSender, PushSubscription } from '../core/ports.ts';

export interface WebPushOptions {
  /** The server's VAPID key pair (P-256, base64url), from the key file. */
  readonly vapid: { readonly publicKey: string; readonly privateKey: string };
  /** Contact for the push services: `mailto:...` or an `https://` URL. */
  readonly subject: string;
  /** Host names of the allowed push services; `*.example.com` matches the hosts below example.com. */
  readonly services: readonly string[];
  /** How long the push service keeps an undelivered message, in seconds. Default 120 (a sign-in's lifetime). */
  readonly ttlSeconds?: number;
  /** Default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Accept plain `http:` endpoints (a loopback test double only; push services speak HTTPS). */
  readonly allowHttp?: boolean;
}

/** At most this much of a push service's answer goes into an error message. */
const DETAIL_CHARS = 300;

/**
 * Why the push method may not send to `endpoint` (a device's subscription), or null when it may:
 * an https:// URL on one of `services`. For checking a subscription before storing it, too.
 */
export function pushEndpointProblem(endpoint: string, services: readonly string[], opts: { allowHttp?: boolean } = {}): string | null {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'the push endpoint is not a URL';
  }
  if (url.protocol !== 'https:' && !(opts.allowHttp === true && url.protocol === 'http:'))
    return `the push endpoint must be an https:// URL, not ${url.protocol}`;
  if (url.username !== '' || url.password !== '') return 'the push endpoint must not carry credentials';
  const host = url.hostname.toLowerCase();
  const allowed = services.some((s) => {
    const pattern = s.toLowerCase();
    return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern;
  });
  return allowed ? null : `${host} is not one of the allowed push services (push.services)`;
}

/** The VAPID public key (base64url, uncompressed P-256 point) of a private key: the PWA's `applicationServerKey`. */
export function vapidPublicKey(privateKey: string): string {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.from(privateKey, 'base64url'));
  return ecdh.getPublicKey().toString('base64url');
}

export function createWebPushSender(opts: WebPushOptions): PushSender {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const ttl = opts.ttlSeconds ?? 120;
  const vapidDetails = { subject: opts.subject, publicKey: opts.vapid.publicKey, privateKey: opts.vapid.privateKey };
  return {
    async notify(subscription, message) {
      const problem = pushEndpointProblem(subscription.endpoint, opts.services, { allowHttp: opts.allowHttp === true });
      if (problem !== null) throw new Error(`push notification not sent: ${problem}`);
      const host = new URL(subscription.endpoint).host;
      const payload = JSON.stringify({ title: message.title, body: message.body, authenticationId: message.authenticationId });
      let details: webpush.RequestDetails;
      try {
        details = webpush.generateRequestDetails(plainSubscription(subscription), payload, {
          vapidDetails,
          TTL: ttl,
          urgency: 'high',
          contentEncoding: 'aes128gcm',
        });
      } catch (e) {
        throw new Error(`push notification not sent: ${(e as Error).message}`, { cause: e });
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(details.headers)) {
        // fetch sets Content-Length from the body itself.
        if (name.toLowerCase() !== 'content-length') headers[name] = String(value);
      }
      let res: Response;
      try {
        res = await fetch(details.endpoint, {
          method: 'POST',
          headers,
          body: details.body === null ? null : new Uint8Array(details.body),
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (e) {
        const err = e as Error;
        const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
        const why = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `${err.message}${cause}`;
        throw new Error(`the push service ${host} could not be reached: ${why}`, { cause: e });
      }
      if (res.status === 201 || res.status === 202) {
        await res.body?.cancel();
        return 'sent';
      }
      if (res.status === 404 || res.status === 410) {
        await res.body?.cancel();
        return 'gone';
      }
      let detail = '';
      try {
        const text = (await res.text()).replace(/\s+/g, ' ').trim();
        if (text !== '') detail = `: ${text.length > DETAIL_CHARS ? `${text.slice(0, DETAIL_CHARS)}...` : text}`;
      } catch {
        // No readable body: the status says enough.
      }
      throw new Error(`the push service ${host} refused the notification (HTTP ${res.status})${detail}`);
    },
  };
}

/** The subscription as the web-push package types it (mutable fields). */
function plainSubscription(s: PushSubscription): webpush.PushSubscription {
  return { endpoint: s.endpoint, keys: { p256dh: s.keys.p256dh, auth: s.keys.auth } };
}
